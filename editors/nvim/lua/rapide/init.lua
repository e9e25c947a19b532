-- rapide for Neovim: a thin client of `rapide serve` on the built-in LSP client. Inline
-- completions as ghost text (extmarks), quick fixes and hover through the standard LSP
-- features, :RapideStatus, :RapideLog, :RapideRestart, :checkhealth rapide.
--
--   require('rapide').setup({ model = '~/models/qwen2.5-coder-1.5b-q8_0.gguf' })
--
-- All state lives in the session that setup() creates; calling setup() again replaces it.
local M = {}

local session -- the current setup() session, or nil before setup()

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'rapide' })
end

local function new_session(cfg)
  local Client = require('rapide.client')
  local Inline = require('rapide.inline')
  local config = require('rapide.config')
  local ghost = require('rapide.ghost')

  local s = {
    config = cfg,
    ns = vim.api.nvim_create_namespace('rapide.ghost'),
    group = vim.api.nvim_create_augroup('rapide', { clear = true }),
    attached = {}, -- bufnr -> client id the buffer was attached with
    errors = {}, -- recent request errors (at most 20), for :RapideStatus
  }
  s.log_error = function(msg)
    table.insert(s.errors, os.date('%H:%M:%S ') .. msg)
    if #s.errors > 20 then
      table.remove(s.errors, 1)
    end
  end
  s.on_shown = function() end
  s.client = Client.new(cfg, {
    on_attach = function(client, bufnr)
      s.attached[bufnr] = client.id
    end,
    notify = notify,
  })
  s.client_for = function(bufnr)
    local c = s.client:get()
    if c and s.attached[bufnr] == c.id then
      return c
    end
    return nil
  end
  s.inline = Inline.new(s)
  ghost.define_highlight()

  local function wants(bufnr)
    return vim.api.nvim_buf_is_valid(bufnr)
      and vim.bo[bufnr].buftype == ''
      and vim.api.nvim_buf_get_name(bufnr) ~= ''
      and config.enabled_for(cfg, vim.bo[bufnr].filetype)
  end
  s.wants = wants

  local au = function(events, fn)
    vim.api.nvim_create_autocmd(events, { group = s.group, callback = fn })
  end
  au('FileType', function(args)
    if wants(args.buf) then
      s.client:attach(args.buf)
    end
  end)
  au({ 'BufWipeout', 'BufDelete' }, function(args)
    s.inline:forget(args.buf)
    s.client:detach(args.buf)
    s.attached[args.buf] = nil
  end)
  if cfg.auto_trigger then
    au('InsertEnter', function(args)
      if s.client_for(args.buf) then
        s.inline:request()
      end
    end)
    au('TextChangedI', function(args)
      if s.client_for(args.buf) then
        s.inline:advance(args.buf)
        s.inline:request()
      end
    end)
  end
  au('CursorMovedI', function(args)
    -- Typing moves the cursor too; TextChangedI has moved the ghost by then, so a ghost that is
    -- not at the cursor after this tick means the cursor was moved away from it.
    vim.schedule(function()
      local cand = s.inline:current(args.buf)
      if cand and vim.api.nvim_get_current_buf() == args.buf then
        local pos = vim.api.nvim_win_get_cursor(0)
        if pos[1] - 1 ~= cand.row or pos[2] ~= cand.col then
          s.inline:dismiss(args.buf)
        end
      end
    end)
  end)
  au({ 'InsertLeave', 'BufLeave' }, function(args)
    s.inline:dismiss(args.buf)
  end)

  -- Keymaps: only act when a completion is shown; otherwise the key does what it did before.
  local function map(action, fn)
    local lhs = cfg.keymaps[action]
    if not lhs then
      return
    end
    local fallback = vim.api.nvim_replace_termcodes(lhs, true, false, true)
    vim.keymap.set('i', lhs, function()
      if not fn() then
        vim.api.nvim_feedkeys(fallback, 'n', false)
      end
    end, { desc = 'rapide: ' .. action:gsub('_', ' ') })
  end
  map('accept', function() return s.inline:accept('all') end)
  map('accept_word', function() return s.inline:accept('word') end)
  map('accept_line', function() return s.inline:accept('line') end)
  map('next', function() return s.inline:cycle(1) or s.inline:request(1) end)
  map('prev', function() return s.inline:cycle(-1) end)
  map('dismiss', function()
    if not s.inline:visible() then
      return false
    end
    s.inline:dismiss()
    return true
  end)

  -- Buffers already open when setup() runs.
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and wants(bufnr) then
      s.client:attach(bufnr)
    end
  end
  return s
end

local function teardown(s)
  for bufnr in pairs(s.inline.buffers) do
    s.inline:dismiss(bufnr)
  end
  for _, action in ipairs({ 'accept', 'accept_word', 'accept_line', 'next', 'prev', 'dismiss' }) do
    local lhs = s.config.keymaps[action]
    if lhs then
      pcall(vim.keymap.del, 'i', lhs)
    end
  end
  vim.api.nvim_del_augroup_by_id(s.group)
  s.client:stop(false)
end

--- Starts rapide with `opts` (see :help rapide-options). Raises an error on a bad option.
function M.setup(opts)
  local cfg = require('rapide.config').resolve(opts)
  if session then
    teardown(session)
  end
  session = new_session(cfg)
  local cmd = vim.api.nvim_create_user_command
  cmd('RapideStatus', function() M.status() end, { desc = 'rapide: server status' })
  cmd('RapideLog', function() M.open_log() end, { desc = 'rapide: open the server log' })
  cmd('RapideRestart', function() M.restart() end, { desc = 'rapide: restart the server' })
end

local function need_session()
  if not session then
    error('rapide: call require("rapide").setup() first', 2)
  end
  return session
end

-- Public actions (for your own mappings). Each returns true when it did something.
function M.accept() return need_session().inline:accept('all') end
function M.accept_word() return need_session().inline:accept('word') end
function M.accept_line() return need_session().inline:accept('line') end
function M.next() return need_session().inline:cycle(1) end
function M.prev() return need_session().inline:cycle(-1) end
function M.dismiss() need_session().inline:dismiss() return true end
function M.visible() return session ~= nil and session.inline:visible() end
--- Asks for a completion now (trigger kind Invoked), whatever auto_trigger says.
function M.trigger() return need_session().inline:request(require('rapide.protocol').trigger_kind.invoked) end
function M.restart() need_session().client:stop(true) end

--- The session, for the health check and tests; nil before setup().
function M._session()
  return session
end

local function format_status(st, c)
  local fmt = require('rapide.status_format')
  return fmt.lines(st, c)
end

--- Shows the server status (rapide/status) without blocking.
function M.status()
  local s = need_session()
  local c = s.client:get()
  if not c then
    notify('rapide: no server running' .. (s.client.gave_up and ' (gave up after repeated crashes: :RapideRestart)' or ''),
      vim.log.levels.WARN)
    return
  end
  local compat = require('rapide.compat')
  compat.call(c, 'request', require('rapide.protocol').methods.status, vim.empty_dict(), function(err, result)
    if err then
      notify('rapide/status: ' .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    local lines = format_status(result, c)
    for _, e in ipairs(s.errors) do
      table.insert(lines, 'error: ' .. e)
    end
    notify(table.concat(lines, '\n'))
  end, 0)
end

--- Opens the server log: the log_file option when set, else Neovim's LSP log (where the
--- built-in client writes the server's stderr).
function M.open_log()
  local s = need_session()
  local file = s.config.log_file and vim.fn.expand(s.config.log_file) or vim.lsp.get_log_path()
  vim.cmd('tabnew ' .. vim.fn.fnameescape(file))
  vim.cmd('normal! G')
end

return M
