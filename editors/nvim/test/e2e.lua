-- End-to-end test against the real server: generates a small model with `rapide make-model`,
-- starts a second Neovim (--embed, driven over RPC with nvim_input, i.e. keystrokes processed by
-- its main loop as a user's would be) with this plugin and `rapide serve`, opens a Python file,
-- types, waits for ghost text extmarks, accepts them with <Tab> and checks the buffer; then kills
-- the server and checks that the plugin restarts it and completions come back.
--   RAPIDE_BINARY=build/cli/rapide \
--   nvim --headless -u editors/nvim/test/minimal_init.lua -c 'luafile editors/nvim/test/e2e.lua'
-- Environment: RAPIDE_BINARY (required), RAPIDE_SHARED_DIR (default: ../shared beside the
-- checkout, for the tokenizer vocabulary), RAPIDE_TEST_MODEL (a GGUF to use instead of
-- generating one), RAPIDE_TEST_TIMEOUT_MS (per wait, default 60000), RAPIDE_TEST_TMPDIR,
-- RAPIDE_TEST_INLINE_BUDGET_MS (the server's inlineBudgetMs setting, default: the server's 2000;
-- CTest gives sanitizer builds, about 10x slower, a larger one).
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
local case, eq, ok = H.case, H.eq, H.ok

local timeout_ms = tonumber(os.getenv('RAPIDE_TEST_TIMEOUT_MS') or '') or 60000
local inline_budget_ms = tonumber(os.getenv('RAPIDE_TEST_INLINE_BUDGET_MS') or '')
-- RAPIDE_TEST_TMPDIR keeps the model, sample file and server log after the run.
local tmp = os.getenv('RAPIDE_TEST_TMPDIR') or vim.fn.tempname()
vim.fn.mkdir(tmp, 'p')
local server_log = tmp .. '/server.log'

local child -- channel of the Neovim under test

local function lua(code, ...)
  return vim.rpcrequest(child, 'nvim_exec_lua', code, { ... })
end

local function input(keys)
  vim.rpcrequest(child, 'nvim_input', keys)
end

local function tail(path, n)
  if vim.fn.filereadable(path) == 0 then
    return '(no file ' .. path .. ')'
  end
  local lines = vim.fn.readfile(path)
  return table.concat(vim.list_slice(lines, math.max(1, #lines - n + 1)), '\n')
end

-- What to print when a wait fails: the child's messages, request errors, the server log.
local function diagnose()
  local state = child and vim.F.npcall(lua, [[
    local s = require('rapide')._session()
    local c = s and s.client:get()
    return {
      messages = _G.rapide_test_messages,
      events = _G.rapide_test_events,
      vim_messages = vim.api.nvim_exec('messages', true),
      errors = s and s.errors,
      last_reply = s and s.last_reply,
      client = c and { id = c.id, initialized = c.initialized, caps = c.server_capabilities } or 'none',
      mode = vim.api.nvim_get_mode().mode,
      lines = vim.api.nvim_buf_get_lines(0, 0, -1, false),
    }
  ]]) or 'child not answering'
  return '\n--- editor state:\n' .. vim.inspect(state) .. '\n--- server log (tail):\n' .. tail(server_log, 40)
end

local function wait_for(what, fn)
  local value
  local done = vim.wait(timeout_ms, function()
    value = fn()
    return value ~= nil and value ~= false and value ~= vim.NIL
  end, 50)
  if not done then
    error(string.format('timed out after %d ms waiting for %s%s', timeout_ms, what, diagnose()), 2)
  end
  return value
end

local function ghost_now()
  return lua([[
    local s = require('rapide')._session()
    local buf = vim.api.nvim_get_current_buf()
    local cand = s.inline:current(buf)
    local text = require('rapide.ghost').shown_text(buf, s.ns)
    if not cand or not text or text == '' then return nil end
    return { text = text, cand = cand, lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false),
             cursor = vim.api.nvim_win_get_cursor(0), tick = vim.api.nvim_buf_get_changedtick(buf) }
  ]])
end

-- Waits for ghost text; when the server's answer at the cursor holds no completion (a random
-- model may produce nothing worth showing at some positions), types the next chunk and waits
-- again, as a user would keep typing. The random model's output survives the server's
-- post-processing (line rules, parse check) at roughly every other position, and which ones
-- varies from run to run (request timing, a stale tree skipping the parse check): each list
-- gives ten more positions, so that all of them coming back empty means something is broken.
local function type_until_ghost(chunks)
  local i = 0
  while true do
    local state = wait_for('ghost text or an empty answer at the cursor', function()
      local g = ghost_now()
      if g ~= nil and g ~= vim.NIL then
        return { ghost = g }
      end
      local empty = lua([[
        local r = require('rapide')._session().last_reply
        local pos = vim.api.nvim_win_get_cursor(0)
        return r ~= nil and r.items == 0 and r.at[1] == pos[1] - 1 and r.at[2] == pos[2]
      ]])
      return empty == true and { empty = true } or nil
    end)
    if state.ghost then
      return state.ghost
    end
    i = i + 1
    if i > #chunks then
      error('the server answered every position with no completion' .. diagnose(), 2)
    end
    H.out('        empty answer at the cursor; typing ' .. chunks[i])
    input(chunks[i])
  end
end

local function attached_client()
  return lua([[
    local s = require('rapide')._session()
    local c = s.client:get()
    if c and c.initialized and s.attached[vim.api.nvim_get_current_buf()] == c.id then return c.id end
    return nil
  ]])
end

-- The buffer lines after inserting `cand` (its text at its position, replacing `replace` bytes).
local function with_insertion(lines, cand)
  local line = lines[cand.row + 1]
  local inserted = line:sub(1, cand.col) .. cand.text .. line:sub(cand.col + 1 + cand.replace)
  local out = vim.list_slice(lines, 1, cand.row)
  vim.list_extend(out, vim.split(inserted, '\n', { plain = true }))
  vim.list_extend(out, vim.list_slice(lines, cand.row + 2))
  return out
end

-- With RAPIDE_TEST_INLINE_BUDGET_MS: checks that the running server took that budget (its
-- rapide/status answer echoes the settings in effect).
local function check_inline_budget()
  if not inline_budget_ms then
    return
  end
  lua('_G.rapide_test_settings = nil')
  local settings = wait_for('the settings in the rapide/status answer', function()
    return lua([[
      if _G.rapide_test_settings then return _G.rapide_test_settings end
      local c = require('rapide')._session().client:get()
      if c and not _G.rapide_test_settings_pending then
        _G.rapide_test_settings_pending = true
        c.request('rapide/status', vim.empty_dict(), function(_, res)
          _G.rapide_test_settings_pending = false
          _G.rapide_test_settings = type(res) == 'table' and res.settings or nil
        end, 0)
      end
      return nil
    ]])
  end)
  eq(settings.inlineBudgetMs, inline_budget_ms, 'the server\'s inlineBudgetMs')
end

local bin = os.getenv('RAPIDE_BINARY') or ''

case('server binary and model', function()
  ok(bin ~= '' and vim.fn.executable(bin) == 1, 'RAPIDE_BINARY must name the built rapide executable, got "' .. bin .. '"')
  local model = os.getenv('RAPIDE_TEST_MODEL')
  if not model or model == '' then
    local shared = os.getenv('RAPIDE_SHARED_DIR') or (H.repo_dir .. '/../shared')
    local vocab = shared .. '/vocab/ggml-vocab-qwen2.gguf'
    if vim.fn.filereadable(vocab) == 0 then
      H.skip('needs the tokenizer vocabulary ' .. vocab .. ' (set RAPIDE_SHARED_DIR)')
    end
    model = tmp .. '/tiny-qwen2.gguf'
    local cmd = { bin, 'make-model', '--preset', 'tiny', '--arch', 'qwen2', '--type', 'q8_0', '--vocab', vocab, '--seed', '7', '-o', model }
    local out = vim.fn.system(cmd)
    ok(vim.v.shell_error == 0, string.format('%s failed (exit %d):\n%s', table.concat(cmd, ' '), vim.v.shell_error, out))
  end
  ok(vim.fn.filereadable(model) == 1, 'model file ' .. model .. ' not readable')
  _G.rapide_e2e_model = model
end)

case('typing shows ghost text from rapide serve; <Tab> accepts it', function()
  if not _G.rapide_e2e_model then
    H.skip('no model')
  end
  local file = tmp .. '/sample.py'
  vim.fn.writefile({
    'def add(a, b):',
    '    return a + b',
    '',
    '',
    'def mean(values):',
    '    total = 0',
    '    for v in values:',
    '        total = add(total, v)',
    '    return total / len(values)',
    '',
  }, file)
  child = vim.fn.jobstart({ vim.v.progpath, '--embed', '--headless', '-n', '-i', 'NONE',
    '-u', H.plugin_dir .. '/test/minimal_init.lua' }, { rpc = true })
  ok(child > 0, 'could not start the Neovim under test')
  lua([[
    local bin, model, log, budget_ms = ...
    _G.rapide_test_messages = {}
    _G.rapide_test_events = {}
    vim.api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'InsertLeave' }, { callback = function(a)
      local s = require('rapide')._session()
      local req = s and s.inline.buffers[a.buf] and s.inline.buffers[a.buf].request
      table.insert(_G.rapide_test_events, string.format('%s tick=%d line=%q attached=%s pending=%s', a.event,
        vim.api.nvim_buf_get_changedtick(a.buf), vim.api.nvim_get_current_line(), tostring(s and s.attached[a.buf]),
        tostring(req and req.id)))
    end })
    vim.notify = function(msg, level) table.insert(_G.rapide_test_messages, { msg = msg, level = level }) end
    if budget_ms then
      -- The server's own inlineBudgetMs setting (not a plugin option): added to the settings
      -- object that every server start sends as initializationOptions and workspace/configuration.
      local config = require('rapide.config')
      local server_settings = config.server_settings
      config.server_settings = function(c)
        local s = server_settings(c)
        s.inlineBudgetMs = budget_ms
        return s
      end
    end
    require('rapide').setup({ server_path = bin, model = model, log_file = log, log_level = 'debug',
      restart = { base_delay_ms = 200, max_delay_ms = 1000, window_ms = 60000, max_crashes = 5 } })
  ]], bin, _G.rapide_e2e_model, server_log, inline_budget_ms)
  lua('vim.cmd("edit " .. vim.fn.fnameescape(...))', file)
  eq(lua('return vim.bo.filetype'), 'python', 'filetype')
  wait_for('the server to initialize and attach the buffer', attached_client)

  -- :RapideStatus asks rapide/status and shows the answer.
  lua('vim.cmd("RapideStatus")')
  local status = wait_for('the rapide/status answer', function()
    for _, m in ipairs(lua('return _G.rapide_test_messages')) do
      if m.msg:find('^rapide: ') and m.msg:find('\nmodel: ') then
        return m.msg
      end
    end
  end)
  H.out('        ' .. status:gsub('\n', '\n        '))
  ok(status:find('^rapide: ready') or status:find('^rapide: loading'), 'state ready or loading: ' .. status)

  -- :checkhealth rapide sees the running server and its inline completion capability.
  local health = lua([[
    vim.cmd('checkhealth rapide')
    local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    vim.cmd('bwipeout!')
    return text
  ]])
  ok(health:find('server running', 1, true), 'health: server running\n' .. health)
  ok(health:find('server offers inline completions', 1, true), 'health: inline completions\n' .. health)
  eq(lua('return vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ":t")'), 'sample.py', 'back in the sample file')

  -- Typing starts once the model is loaded (while it loads, the server answers with an error and
  -- the plugin asks again later: the restart case below goes through that path).
  wait_for('rapide/status to say ready', function()
    return lua([[
      if _G.rapide_test_state == 'ready' then return true end
      local c = require('rapide')._session().client:get()
      if c and not _G.rapide_test_state_pending then
        _G.rapide_test_state_pending = true
        c.request('rapide/status', vim.empty_dict(), function(_, res)
          _G.rapide_test_state_pending = false
          _G.rapide_test_state = type(res) == 'table' and res.state or nil
        end, 0)
      end
      return false
    ]])
  end)

  check_inline_budget()

  input('Gof')
  input('or i in range(len(values)):')
  local g = type_until_ghost({ '<CR>total = ', 'mean(values) + ', '<CR>print(', 'total', ')<CR>', 'count = ', 'len(',
    'values)<CR>', 'result = ', 'add(' })
  H.out('        ghost text: ' .. vim.inspect(g.text))
  eq(g.cursor[1] - 1, g.cand.row, 'ghost on the cursor line')
  eq(g.cursor[2], g.cand.col, 'ghost at the cursor column')
  ok(g.text == g.cand.text, 'extmarks show the whole candidate: ' .. vim.inspect(g.text) .. ' vs ' .. vim.inspect(g.cand.text))
  ok(g.lines[11] == 'for i in range(len(values)):', 'typed line: ' .. tostring(g.lines[11]))

  local want = with_insertion(g.lines, g.cand)
  input('<Tab>')
  local lines = wait_for('the buffer to change after <Tab>', function()
    local l = lua('return vim.api.nvim_buf_get_lines(0, 0, -1, false)')
    return not vim.deep_equal(l, g.lines) and l or nil
  end)
  eq(lines, want, 'buffer after accepting')
  eq(lua('return vim.api.nvim_get_mode().mode'), 'i', 'still in insert mode')
  local last = want[#want]
  local text_lines = vim.split(g.cand.text, '\n', { plain = true })
  local want_col = #text_lines == 1 and (g.cand.col + #g.cand.text) or #text_lines[#text_lines]
  eq(lua('return vim.api.nvim_win_get_cursor(0)'), { #want, want_col }, 'cursor after the accepted text (line ' .. last .. ')')
end)

case('the server dies: the plugin says so, restarts it, and completions come back', function()
  if not child then
    H.skip('no editor from the previous case')
  end
  local first = attached_client()
  ok(first, 'a client is attached')
  local pid = lua([[
    local c = require('rapide')._session().client:get()
    return c and c.rpc and c.rpc.pid
  ]])
  if not pid then
    local out = vim.fn.system({ 'pgrep', '-P', tostring(vim.fn.jobpid(child)) })
    pid = tonumber(vim.split(out, '\n')[1])
  end
  ok(pid, 'server pid')
  vim.loop.kill(pid, 'sigkill')
  local msg = wait_for('the restart message', function()
    for _, m in ipairs(lua('return _G.rapide_test_messages')) do
      if m.msg:find('^rapide: the server exited') then
        return m
      end
    end
  end)
  ok(msg.msg:find('restarting in', 1, true), 'message says it restarts: ' .. msg.msg)
  local second = wait_for('a new server attached', function()
    local id = attached_client()
    return id and id ~= first and id or nil
  end)
  ok(second ~= first, 'new client')
  check_inline_budget()
  input('<Esc>Go')
  input('result = mean([1, 2, 3])')
  type_until_ghost({ '<CR>print(', 'result', ' + add(', 'result, ', '1))<CR>', 'value = ', 'result', ' * ',
    '<CR>total = ', 'add(', 'value, ' })
  input('<Esc>')
end)

if child then
  pcall(vim.rpcrequest, child, 'nvim_command', 'qall!')
  vim.fn.jobstop(child)
end
H.finish()
