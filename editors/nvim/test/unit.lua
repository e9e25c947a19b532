-- Unit tests of the plugin's own logic, no server needed: options, protocol constants against
-- editors/protocol.json, back-off, ghost text extmarks, candidates from server answers,
-- accept / partial accept / typed-ahead / cycle, health check, and restart with back-off of a
-- server process that keeps dying.
--   nvim --headless -u editors/nvim/test/minimal_init.lua -c 'luafile editors/nvim/test/unit.lua'
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h') .. '/harness.lua')
local case, eq, ok, raises = H.case, H.eq, H.ok, H.raises

local protocol = require('rapide.protocol')
local config = require('rapide.config')
local backoff = require('rapide.backoff')
local ghost = require('rapide.ghost')
local Inline = require('rapide.inline')

local shared = H.read_json(H.repo_dir .. '/editors/protocol.json')

local function json_value(v)
  -- vim.json.decode gives vim.empty_dict() for {}; compare plain tables.
  return vim.json.decode(vim.json.encode(v))
end

case('protocol.lua agrees with editors/protocol.json', function()
  eq(protocol.settings_section, shared.settingsSection, 'settings section')
  eq(protocol.methods, shared.methods, 'methods')
  eq(protocol.progress_token, shared.progressToken, 'progress token')
  eq(protocol.status_states, shared.statusStates, 'status states')
  local names = {}
  for _, s in ipairs(protocol.settings) do
    table.insert(names, s.name)
    local want = vim.deepcopy(shared.settings[s.name])
    ok(want, 'setting ' .. s.name .. ' missing from protocol.json')
    want.doc = nil
    local got = vim.deepcopy(s)
    got.name = nil
    eq(json_value(got), json_value(want), 'setting ' .. s.name)
  end
  local shared_names = vim.tbl_keys(shared.settings)
  table.sort(shared_names)
  local sorted = vim.deepcopy(names)
  table.sort(sorted)
  eq(sorted, shared_names, 'setting names')
end)

case('every protocol setting has a setup() option', function()
  local mapped = {}
  for _, setting in pairs(config.option_to_setting) do
    mapped[setting] = true
  end
  for _, s in ipairs(protocol.settings) do
    ok(mapped[s.name], 'no option for ' .. s.name)
  end
end)

case('defaults: `rapide serve`, every setting sent', function()
  local c = config.resolve({})
  eq(config.server_cmd(c), { 'rapide', 'serve' }, 'command')
  local s = config.server_settings(c)
  eq(s.maxTokens, 128, 'maxTokens')
  eq(s.serverPath, nil, 'serverPath is not sent')
  eq(s.device, 'auto', 'device')
  eq(config.enabled_for(c, 'python'), true, 'python on')
  eq(config.enabled_for(c, 'markdown'), false, 'markdown off')
end)

case('options that differ from their default become flags', function()
  local c = config.resolve({
    server_path = '/opt/rapide', model = '/m/a.gguf', draft_model = '/m/d.gguf', chat_model = '/m/c.gguf',
    device = 'cuda', speculation = 'draft', log_level = 'debug', log_file = '/tmp/r.log', max_tokens = 32,
  })
  eq(config.server_cmd(c), {
    '/opt/rapide', 'serve', '--model', '/m/a.gguf', '--draft-model', '/m/d.gguf', '--chat-model', '/m/c.gguf',
    '--device', 'cuda', '--speculate', 'draft', '--log-level', 'debug', '--log-file', '/tmp/r.log',
  }, 'command')
  eq(config.server_settings(c).maxTokens, 32, 'maxTokens')
  eq(config.server_cmd(config.resolve({ cmd = { 'wrapper', '--x' }, model = '/m.gguf' })), { 'wrapper', '--x', '--model', '/m.gguf' }, 'cmd')
end)

case('enable replaces the default map; * applies to others', function()
  local c = config.resolve({ enable = { ['*'] = false, lua = true } })
  eq(config.enabled_for(c, 'lua'), true, 'lua')
  eq(config.enabled_for(c, 'python'), false, 'python')
  eq(config.enabled_for(c, 'markdown'), false, 'markdown')
  eq(config.enabled_for(config.resolve({ enable = { markdown = true } }), 'markdown'), true, 'markdown on')
end)

case('bad options are rejected naming the option', function()
  raises(function() config.resolve({ modle = 'x' }) end, 'unknown option "modle"')
  raises(function() config.resolve({ device = 'gpu' }) end, 'device')
  raises(function() config.resolve({ device = 'gpu' }) end, 'one of auto, cpu, cuda')
  raises(function() config.resolve({ max_tokens = 0 }) end, 'max_tokens')
  raises(function() config.resolve({ max_tokens = 1.5 }) end, 'an integer in 1..4096')
  raises(function() config.resolve({ model = 3 }) end, 'model')
  raises(function() config.resolve({ enable = { python = 'yes' } }) end, 'enable')
  raises(function() config.resolve({ keymaps = { acept = '<Tab>' } }) end, 'unknown action "acept"')
  raises(function() config.resolve({ keymaps = { accept = 1 } }) end, 'keymaps.accept')
  raises(function() config.resolve({ cmd = {} }) end, 'cmd: expected a non-empty list')
  raises(function() config.resolve({ restart = { base_delay_ms = 0 } }) end, 'invalid back-off')
  raises(function() config.resolve('x') end, 'opts')
end)

case('back-off: 1, 2, 4, 8 s then give up; window and reset', function()
  local p = backoff.new()
  local delays = {}
  for i = 1, 4 do
    local d = p:on_crash(i * 1000)
    ok(d.restart, 'crash ' .. i .. ' restarts')
    table.insert(delays, d.delay_ms)
  end
  eq(delays, { 1000, 2000, 4000, 8000 }, 'delays')
  eq(p:on_crash(5000), { restart = false, crashes = 5 }, 'fifth crash')
  eq(p:on_crash(5000 + backoff.defaults.window_ms + 1), { restart = true, delay_ms = 1000, crashes = 1 }, 'after the window')
  p:reset()
  eq(p:on_crash(0).delay_ms, 1000, 'after reset')
  local capped = backoff.new({ base_delay_ms = 1000, max_delay_ms = 3000, max_crashes = 10 })
  for _ = 1, 3 do
    capped:on_crash(0)
  end
  eq(capped:on_crash(0).delay_ms, 3000, 'capped')
end)

-- Tests place the cursor after the last character as insert mode does.
vim.o.virtualedit = 'onemore'

local function scratch(lines)
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.api.nvim_set_current_buf(buf)
  return buf
end

local ns = vim.api.nvim_create_namespace('rapide.test')

case('ghost: one line at the end of a line is overlay virtual text at the cursor', function()
  local buf = scratch({ 'def add(a, b):', '    return ' })
  ghost.show(buf, ns, { row = 1, col = 11, text = 'a + b', replace = 0 })
  local marks = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
  eq(#marks, 1, 'one extmark')
  eq({ marks[1][2], marks[1][3] }, { 1, 11 }, 'position')
  eq(marks[1][4].virt_text, { { 'a + b', 'RapideGhostText' } }, 'virtual text')
  eq(marks[1][4].virt_lines, nil, 'no virtual lines')
  eq(ghost.shown_text(buf, ns), 'a + b', 'shown text')
  ghost.clear(buf, ns)
  eq(ghost.shown_text(buf, ns), nil, 'cleared')
end)

case('ghost: several lines use virtual lines; the rest of the line moves to the last one', function()
  local buf = scratch({ 'foo()' })
  ghost.show(buf, ns, { row = 0, col = 4, text = 'x,\n  y,\n  z', replace = 0 })
  local m = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1][4]
  eq(m.virt_lines, { { { '  y,', 'RapideGhostText' } }, { { '  z', 'RapideGhostText' }, { ')', 'Normal' } } }, 'virtual lines')
  eq(m.virt_text[1], { 'x,', 'RapideGhostText' }, 'first line')
  eq(ghost.shown_text(buf, ns), 'x,\n  y,\n  z', 'shown text')
end)

case('ghost: mid-line single line keeps the rest of the line visible after it', function()
  local buf = scratch({ 'print()' })
  ghost.show(buf, ns, { row = 0, col = 6, text = '"hi"', replace = 0 })
  local m = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1][4]
  if vim.fn.has('nvim-0.10') == 1 then
    eq(m.virt_text, { { '"hi"', 'RapideGhostText' } }, 'inline')
  else
    eq(m.virt_text, { { '"hi"', 'RapideGhostText' }, { ')', 'Normal' } }, 'overlay with the rest')
  end
  -- Replacing the rest (the completion includes the closing parenthesis): it is covered.
  ghost.show(buf, ns, { row = 0, col = 6, text = '"hi")', replace = 1 })
  m = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })[1][4]
  eq(m.virt_text, { { '"hi")', 'RapideGhostText' } }, 'replacing overlay')
end)

case('next word / next line', function()
  eq(ghost.next_word('foo(bar)'), 'foo', 'word')
  eq(ghost.next_word('  bar + 1'), '  bar', 'blanks then word')
  eq(ghost.next_word('(x)'), '(', 'punctuation')
  eq(ghost.next_word('\n    return x'), '\n    ', 'newline and indentation')
  eq(ghost.next_line('a + b\nc'), 'a + b', 'line')
  eq(ghost.next_line('\nreturn 1\nx'), '\nreturn 1', 'next line')
end)

case('candidates: list or array, typed prefix, utf-16 ranges, snippets, bad ranges dropped', function()
  local line = 'x = "é" + fo'
  local col = #line -- 13 bytes; 12 utf-16 units
  local c = Inline.candidates_from({ items = { { insertText = 'foo(1)' } } }, line, 3, col, 'utf-16')
  eq(c, { { row = 3, col = col, text = 'foo(1)', replace = 0 } }, 'no range: inserted at the cursor')
  c = Inline.candidates_from({ { insertText = 'foo(1)', range = { start = { line = 3, character = 10 }, ['end'] = { line = 3, character = 12 } } } }, line, 3, col, 'utf-16')
  eq(c, { { row = 3, col = col, text = 'o(1)', replace = 0 } }, 'range from the typed word (utf-16)')
  c = Inline.candidates_from({ { insertText = 'bar', range = { start = { line = 3, character = 10 }, ['end'] = { line = 3, character = 12 } } } }, line, 3, col, 'utf-16')
  eq(c, {}, 'text that does not start with the typed word')
  c = Inline.candidates_from({ { insertText = 'x', range = { start = { line = 2, character = 0 }, ['end'] = { line = 3, character = 12 } } } }, line, 3, col, 'utf-16')
  eq(c, {}, 'multi-line range')
  c = Inline.candidates_from({ items = { { insertText = { kind = 'snippet', value = 'f(${1:a}, $2)$0' } } } }, '', 0, 0, 'utf-16')
  eq(c[1].text, 'f(a, )', 'snippet')
  eq(Inline.candidates_from(vim.NIL, '', 0, 0, 'utf-16'), {}, 'null')
  c = Inline.candidates_from({ { insertText = 'b)', range = { start = { line = 0, character = 2 }, ['end'] = { line = 0, character = 3 } } } }, 'f()', 0, 2, 'utf-8')
  eq(c, { { row = 0, col = 2, text = 'b)', replace = 1 } }, 'replacing the closing parenthesis')
end)

-- An Inline without a server: candidates are put in place as a reply would.
local function inline_with(buf, cands)
  local s = { ns = ns, client_for = function() return nil end, log_error = error, on_shown = function() end }
  local inl = Inline.new(s)
  inl.buffers[buf] = { candidates = cands, index = 1 }
  return inl
end

case('accept all / word / line; typed-ahead keeps the ghost', function()
  local buf = scratch({ 'def f():', '    ' })
  vim.api.nvim_win_set_cursor(0, { 2, 4 })
  local inl = inline_with(buf, { { row = 1, col = 4, text = 'return x + 1\nprint(f())', replace = 0 } })
  ok(inl:accept('word'), 'accept word')
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), { 'def f():', '    return' }, 'after word')
  eq(inl:current(buf).text, ' x + 1\nprint(f())', 'rest after word')
  eq(ghost.shown_text(buf, ns), ' x + 1\nprint(f())', 'ghost after word')
  -- The user types " x" by hand: the ghost follows.
  vim.api.nvim_buf_set_text(buf, 1, 10, 1, 10, { ' x' })
  vim.api.nvim_win_set_cursor(0, { 2, 12 })
  ok(inl:advance(buf), 'typed ahead')
  eq(inl:current(buf).text, ' + 1\nprint(f())', 'rest after typing')
  ok(inl:accept('line'), 'accept line')
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), { 'def f():', '    return x + 1' }, 'after line')
  eq(inl:current(buf).text, '\nprint(f())', 'rest after line')
  ok(inl:accept('all'), 'accept all')
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), { 'def f():', '    return x + 1', 'print(f())' }, 'after all')
  eq(vim.api.nvim_win_get_cursor(0), { 3, 10 }, 'cursor after the insertion')
  eq(inl:visible(buf), false, 'nothing shown')
  eq(ghost.shown_text(buf, ns), nil, 'no extmark')
  eq(inl:accept('all'), false, 'nothing to accept')
end)

case('typing something else drops the ghost; cycle and dismiss', function()
  local buf = scratch({ 'x = ' })
  vim.api.nvim_win_set_cursor(0, { 1, 4 })
  local inl = inline_with(buf, {
    { row = 0, col = 4, text = '1', replace = 0 },
    { row = 0, col = 4, text = '2', replace = 0 },
    { row = 0, col = 4, text = '3', replace = 0 },
  })
  ok(inl:cycle(1), 'next')
  eq(inl:current(buf).text, '2', 'second')
  ok(inl:cycle(-1) and inl:cycle(-1), 'previous twice')
  eq(inl:current(buf).text, '3', 'wraps around')
  eq(ghost.shown_text(buf, ns), '3', 'shown')
  vim.api.nvim_buf_set_text(buf, 0, 4, 0, 4, { 'y' })
  vim.api.nvim_win_set_cursor(0, { 1, 5 })
  eq(inl:advance(buf), false, 'no candidate starts with y')
  eq(ghost.shown_text(buf, ns), nil, 'ghost gone')
  inl.buffers[buf].candidates = { { row = 0, col = 5, text = ' + 1', replace = 0 } }
  inl:dismiss(buf)
  eq(inl:visible(buf), false, 'dismissed')
end)

case('replacing completion: accept replaces the covered text', function()
  local buf = scratch({ 'f()' })
  vim.api.nvim_win_set_cursor(0, { 1, 2 })
  local inl = inline_with(buf, { { row = 0, col = 2, text = 'b)', replace = 1 } })
  ok(inl:accept('all'), 'accept')
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, false), { 'f(b)' }, 'replaced')
end)

case('setup validates, defines the commands, and :checkhealth rapide runs', function()
  raises(function() require('rapide').setup({ device = 'tpu' }) end, 'device')
  require('rapide').setup({ server_path = '/nonexistent/rapide' })
  eq(vim.fn.exists(':RapideStatus'), 2, ':RapideStatus')
  eq(vim.fn.exists(':RapideLog'), 2, ':RapideLog')
  eq(vim.fn.exists(':RapideRestart'), 2, ':RapideRestart')
  vim.cmd('checkhealth rapide')
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  ok(text:find('server executable not found: /nonexistent/rapide', 1, true), 'health names the missing binary:\n' .. text)
  ok(not text:find('Failed to run healthcheck', 1, true), 'health check ran:\n' .. text)
  vim.cmd('bwipeout!')
end)

case('a server that keeps dying is restarted with back-off, then given up, with messages', function()
  local messages = {}
  local saved = vim.notify
  vim.notify = function(msg, level)
    if msg:match('^rapide:') then -- Neovim's client reports the exit too
      table.insert(messages, { msg = msg, level = level })
    end
  end
  local file = vim.fn.tempname() .. '.py'
  vim.fn.writefile({ 'x = 1' }, file)
  require('rapide').setup({
    cmd = { 'sh', '-c', 'exit 3' },
    restart = { base_delay_ms = 50, max_delay_ms = 100, window_ms = 60000, max_crashes = 3 },
  })
  vim.cmd('edit ' .. file)
  local gave_up = vim.wait(10000, function()
    return #messages >= 3
  end, 20)
  vim.notify = saved
  ok(gave_up, 'three messages, got ' .. vim.inspect(messages))
  ok(messages[1].msg:find('exited (code 3); restarting in 0 s', 1, true), 'first: ' .. messages[1].msg)
  eq(messages[1].level, vim.log.levels.WARN, 'warning')
  ok(messages[2].msg:find('restarting', 1, true), 'second: ' .. messages[2].msg)
  ok(messages[3].msg:find('failed 3 times in a row, so it is not restarted', 1, true), 'third: ' .. messages[3].msg)
  eq(messages[3].level, vim.log.levels.ERROR, 'error')
  ok(require('rapide')._session().client.gave_up, 'gave up')
  vim.cmd('bwipeout!')
end)

case(':RapideStatus lines from a rapide/status answer', function()
  local fmt = require('rapide.status_format')
  eq(fmt.lines({ state = 'loading', loadPercent = 41.6 }), { 'rapide: loading (42%)' }, 'loading')
  eq(fmt.lines({ state = 'ready', model = '/m/a.gguf', device = 'cpu', memoryBytes = 3 * 1024 * 1024,
    lastLatencyMs = { inlineCompletion = 84.4, hover = -1 } }),
    { 'rapide: ready', 'model: /m/a.gguf', 'device: cpu', 'memory: 3.0 MiB', 'last inlineCompletion: 84 ms' }, 'ready')
  eq(fmt.lines({ state = 'no-model', message = 'no model: set model' }), { 'rapide: no-model', 'no model: set model' }, 'no model')
  ok(fmt.lines(vim.NIL)[1]:find('unexpected', 1, true), 'bad answer')
  eq(fmt.bytes(512), '512 B', 'bytes')
  eq(fmt.ms(1530), '1.5 s', 'seconds')
end)

case('help file: tags build, every option and command is documented', function()
  local dir = vim.fn.tempname() .. '/doc'
  vim.fn.mkdir(dir, 'p')
  local help = vim.fn.readfile(H.plugin_dir .. '/doc/rapide.txt')
  vim.fn.writefile(help, dir .. '/rapide.txt')
  vim.cmd('helptags ' .. vim.fn.fnameescape(dir))
  local tags = {}
  for _, l in ipairs(vim.fn.readfile(dir .. '/tags')) do
    tags[vim.split(l, '\t')[1]] = true
  end
  for _, t in ipairs({ 'rapide', 'rapide-options', 'rapide-inline', 'rapide-restart', ':RapideStatus', ':RapideLog',
    ':RapideRestart', 'rapide.setup()', 'rapide.accept()', 'RapideGhostText' }) do
    ok(tags[t], 'help tag ' .. t)
  end
  local text = table.concat(help, '\n')
  for option in pairs(config.defaults()) do
    ok(text:find('\n`' .. option .. '`', 1, true), 'option ' .. option .. ' documented in rapide-options')
  end
  for _, option in ipairs({ 'cmd', 'log_file' }) do
    ok(text:find('\n`' .. option .. '`', 1, true), 'option ' .. option .. ' documented')
  end
  for action in pairs(config.defaults().keymaps) do
    ok(text:find('`' .. action .. '`', 1, true), 'keymap ' .. action .. ' documented')
  end
end)

H.finish()
