-- Options of require('rapide').setup(opts): defaults, validation (vim.validate), and what they
-- become for the server (command line, initializationOptions, workspace/configuration).
-- Pure: no side effects, no editor state.
local compat = require('rapide.compat')
local protocol = require('rapide.protocol')

local M = {}

-- setup() option -> protocol setting name (protocol.json / VS Code rapide.<name>).
M.option_to_setting = {
  server_path = 'serverPath',
  model = 'modelPath',
  draft_model = 'draftModelPath',
  chat_model = 'chatModelPath',
  device = 'device',
  speculation = 'speculation',
  max_tokens = 'maxTokens',
  enable = 'enable',
  log_level = 'logLevel',
}

local function spec_of(setting)
  for _, s in ipairs(protocol.settings) do
    if s.name == setting then
      return s
    end
  end
  error('rapide: no protocol setting ' .. setting)
end

function M.defaults()
  local d = {
    cmd = nil, -- full command (list) instead of server_path + flags, e.g. for a wrapper script
    log_file = nil, -- server log file (--log-file); nil: the server logs to stderr (Neovim's LSP log)
    auto_trigger = true, -- request completions on InsertEnter / TextChangedI
    root_markers = { '.git' },
    keymaps = {
      accept = '<Tab>',
      accept_word = '<M-Right>',
      accept_line = '<M-Down>',
      next = '<M-]>',
      prev = '<M-[>',
      dismiss = '<C-]>',
    },
    restart = vim.deepcopy(require('rapide.backoff').defaults),
  }
  for option, setting in pairs(M.option_to_setting) do
    d[option] = vim.deepcopy(spec_of(setting).default)
  end
  d.server_path = 'rapide'
  return d
end

local function one_of(values)
  return function(v)
    return vim.tbl_contains(values, v)
  end, 'one of ' .. table.concat(values, ', ')
end

local function map_of_booleans(v)
  if type(v) ~= 'table' then
    return false
  end
  for k, flag in pairs(v) do
    if type(k) ~= 'string' or type(flag) ~= 'boolean' then
      return false
    end
  end
  return true
end

local function keymap_value(v)
  return v == false or type(v) == 'string'
end

--- Merges opts over the defaults and validates the result. Raises a Lua error naming the bad
--- option, what was expected and what was given.
function M.resolve(opts)
  opts = opts or {}
  compat.validate({ opts = { opts, 'table' } })
  local defaults = M.defaults()
  for key in pairs(opts) do
    if defaults[key] == nil and key ~= 'cmd' and key ~= 'log_file' then
      local known = vim.tbl_keys(defaults)
      table.sort(known)
      error(string.format('rapide.setup: unknown option %q (known: %s)', key, table.concat(known, ', ')), 0)
    end
  end
  local c = vim.tbl_deep_extend('force', defaults, opts)
  if opts.enable ~= nil then
    c.enable = opts.enable -- replace, not merge: the user's map is the whole map
  end
  local int = function(lo, hi)
    return function(v)
      return type(v) == 'number' and v == math.floor(v) and v >= lo and v <= hi
    end, string.format('an integer in %d..%d', lo, hi)
  end
  local ok, err = pcall(compat.validate, {
    cmd = { c.cmd, 'table', true },
    server_path = { c.server_path, 'string' },
    model = { c.model, 'string' },
    draft_model = { c.draft_model, 'string' },
    chat_model = { c.chat_model, 'string' },
    device = { c.device, one_of(spec_of('device').values) },
    speculation = { c.speculation, one_of(spec_of('speculation').values) },
    max_tokens = { c.max_tokens, int(1, 4096) },
    enable = { c.enable, map_of_booleans, 'a table of filetype -> boolean' },
    log_level = { c.log_level, one_of(spec_of('logLevel').values) },
    log_file = { c.log_file, 'string', true },
    auto_trigger = { c.auto_trigger, 'boolean' },
    root_markers = { c.root_markers, 'table' },
    keymaps = { c.keymaps, 'table' },
    restart = { c.restart, 'table' },
  })
  if not ok then
    error('rapide.setup: ' .. tostring(err), 0)
  end
  for name, lhs in pairs(c.keymaps) do
    if defaults.keymaps[name] == nil then
      error(string.format('rapide.setup: keymaps: unknown action %q', name), 0)
    end
    if not keymap_value(lhs) then
      error(string.format('rapide.setup: keymaps.%s: expected a key string or false, got %s', name, vim.inspect(lhs)), 0)
    end
  end
  local islist = vim.islist or vim.tbl_islist
  if c.cmd ~= nil and (#c.cmd == 0 or not islist(c.cmd)) then
    error('rapide.setup: cmd: expected a non-empty list of strings, got ' .. vim.inspect(c.cmd), 0)
  end
  local okb, errb = pcall(require('rapide.backoff').new, c.restart)
  if not okb then
    error('rapide.setup: restart: ' .. tostring(errb), 0)
  end
  return c
end

--- The protocol settings object (initializationOptions, answers to workspace/configuration).
function M.server_settings(c)
  local s = {}
  for option, setting in pairs(M.option_to_setting) do
    if setting ~= 'serverPath' then
      s[setting] = c[option]
    end
  end
  return s
end

local function expand(path)
  if path:sub(1, 1) == '~' then
    return vim.fn.expand(path)
  end
  return path
end

--- The server command: `server_path serve` plus a flag for each setting that differs from its
--- default, and --log-file when log_file is set. `cmd` replaces the executable and `serve`.
function M.server_cmd(c)
  local cmd = c.cmd and vim.deepcopy(c.cmd) or { expand(c.server_path), 'serve' }
  local settings = M.server_settings(c)
  for _, spec in ipairs(protocol.settings) do
    local v = settings[spec.name]
    if spec.flag and v ~= nil and v ~= spec.default and v ~= '' then
      table.insert(cmd, spec.flag)
      table.insert(cmd, spec.name:match('Path$') and expand(tostring(v)) or tostring(v))
    end
  end
  if c.log_file then
    table.insert(cmd, '--log-file')
    table.insert(cmd, expand(c.log_file))
  end
  return cmd
end

--- Inline completions on for a filetype: its own entry, else '*', else on.
function M.enabled_for(c, filetype)
  local v = c.enable[filetype]
  if v == nil then
    v = c.enable['*']
  end
  return v ~= false
end

return M
