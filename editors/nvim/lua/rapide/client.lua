-- The server's life cycle: starts `rapide serve` through Neovim's built-in client
-- (vim.lsp.config + vim.lsp.start on 0.11+, vim.lsp.start on 0.8-0.10, vim.lsp.start_client on
-- 0.7), attaches buffers, and restarts the server with back-off when it dies, telling the user.
local backoff = require('rapide.backoff')
local compat = require('rapide.compat')
local config = require('rapide.config')

local Client = {}
Client.__index = Client

local NAME = 'rapide'

--- @param cfg table resolved setup() options
--- @param hooks table { on_attach(client, bufnr), notify(msg, level) }
function Client.new(cfg, hooks)
  return setmetatable({
    cfg = cfg,
    hooks = hooks,
    policy = backoff.new(cfg.restart),
    id = nil, -- current client id
    buffers = {}, -- bufnr -> true: buffers that should be attached
    stopping = {}, -- client ids stopped on purpose
    restart_timer = nil,
    root_dir = nil,
  }, Client)
end

-- The nearest folder, from the working directory up, holding one of `markers`; else the
-- working directory.
local function find_root(markers)
  local cwd = compat.uv.cwd()
  local dir = cwd
  while dir do
    for _, m in ipairs(markers) do
      if compat.uv.fs_stat(dir .. '/' .. m) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      break
    end
    dir = parent
  end
  return cwd
end

function Client:lsp_config()
  local settings = config.server_settings(self.cfg)
  self.root_dir = self.root_dir or find_root(self.cfg.root_markers)
  return {
    name = NAME,
    cmd = config.server_cmd(self.cfg),
    root_dir = self.root_dir,
    init_options = settings,
    settings = { [require('rapide.protocol').settings_section] = settings },
    -- The plugin shows inline completions itself (Neovim's client does not know the method):
    -- saying so lets the server skip its textDocument/completion fallback.
    capabilities = vim.tbl_deep_extend('force', vim.lsp.protocol.make_client_capabilities(), {
      textDocument = { inlineCompletion = { dynamicRegistration = false } },
    }),
    -- flags.debounce_text_changes: didChange goes out at once; the server debounces.
    flags = { debounce_text_changes = 0 },
    on_attach = function(client, bufnr)
      self.hooks.on_attach(client, bufnr)
    end,
    on_exit = function(code, signal, client_id)
      vim.schedule(function()
        self:on_exit(code, signal, client_id)
      end)
    end,
  }
end

--- The running client, if any.
function Client:get()
  if not self.id then
    return nil
  end
  local c = compat.get_client(self.id)
  if c and not (c.is_stopped and compat.call(c, 'is_stopped')) then
    return c
  end
  return nil
end

local function attach_one(self, bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  if compat.nvim_0_11 and vim.lsp.config then
    if not self.configured then
      vim.lsp.config(NAME, self:lsp_config())
      self.configured = true
    end
    self.id = vim.lsp.start(vim.lsp.config[NAME], { bufnr = bufnr }) or self.id
  elseif compat.nvim_0_8 then
    self.id = vim.lsp.start(self:lsp_config(), { bufnr = bufnr }) or self.id
  else
    if not self:get() then
      self.id = vim.lsp.start_client(self:lsp_config())
    end
    if self.id then
      vim.lsp.buf_attach_client(bufnr, self.id)
    end
  end
end

--- Attaches `bufnr` (starting the server when none runs). Remembered for restarts.
function Client:attach(bufnr)
  self.buffers[bufnr] = true
  if self.restart_timer or self.gave_up then
    return -- attached when the server comes back
  end
  attach_one(self, bufnr)
end

function Client:detach(bufnr)
  self.buffers[bufnr] = nil
end

local function attach_all(self)
  for bufnr in pairs(self.buffers) do
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_buf_is_loaded(bufnr) then
      attach_one(self, bufnr)
    else
      self.buffers[bufnr] = nil
    end
  end
end

function Client:on_exit(code, signal, client_id)
  if self.stopping[client_id] then
    self.stopping[client_id] = nil
    if self.restart_after_stop then
      self.restart_after_stop = false
      attach_all(self)
    end
    return
  end
  if client_id ~= self.id then
    return
  end
  self.id = nil
  local why = string.format('rapide: the server exited (code %d%s)', code or -1,
    (signal and signal ~= 0) and (', signal ' .. signal) or '')
  local d = self.policy:on_crash(compat.uv.now())
  if d.restart then
    self.hooks.notify(string.format('%s; restarting in %d s.', why, math.floor(d.delay_ms / 1000 + 0.5)), vim.log.levels.WARN)
    self.restart_timer = vim.defer_fn(function()
      self.restart_timer = nil
      attach_all(self)
    end, d.delay_ms)
  else
    self.gave_up = true
    self.hooks.notify(string.format('%s; it failed %d times in a row, so it is not restarted. '
      .. 'See :RapideLog, fix the cause, then run :RapideRestart.', why, d.crashes), vim.log.levels.ERROR)
  end
end

--- Stops the server; `restart` starts a fresh one for the remembered buffers.
function Client:stop(restart)
  if self.restart_timer then
    self.restart_timer:stop()
    self.restart_timer = nil
  end
  local c = self:get()
  self.id = nil
  if restart then
    self.policy:reset()
    self.gave_up = false
    self.configured = false
  end
  if c then
    -- A restart waits for the old process to exit, so that vim.lsp.start does not reuse it.
    self.stopping[c.id] = true
    self.restart_after_stop = restart or false
    compat.call(c, 'stop')
    vim.defer_fn(function()
      if not compat.call(c, 'is_stopped') then
        compat.call(c, 'stop', true)
      end
    end, 3000)
  elseif restart then
    attach_all(self)
  end
end

return Client
