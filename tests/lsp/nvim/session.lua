-- Neovim headless (Debian's 0.7.2 and later): attaches the built-in LSP client to the real
-- `rapide serve` and receives a hover and a completion.
--   RAPIDE_TEST_BINARY=... RAPIDE_TEST_MODEL=... nvim --headless --clean -u NONE -c 'luafile session.lua'
local bin = os.getenv('RAPIDE_TEST_BINARY')
local model = os.getenv('RAPIDE_TEST_MODEL')

local function finish(ok, msg)
  io.stdout:write('nvim: ' .. msg .. '\n')
  io.stdout:flush()
  vim.cmd((ok and 'qall!') or 'cquit! 1')
end

local ok, err = pcall(function()
  assert(bin and model, 'set RAPIDE_TEST_BINARY and RAPIDE_TEST_MODEL')
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_buf_set_name(buf, '/tmp/rapide-nvim-session.py')
  vim.api.nvim_buf_set_option(buf, 'filetype', 'python')
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'def add(a, b):', '    return a + b', '', 'total = ad' })

  local client_id = vim.lsp.start_client({
    name = 'rapide',
    cmd = { bin, 'serve', '--model', model, '--log-level', 'warn' },
    root_dir = '/tmp',
    init_options = { maxTokens = 12, enable = { ['*'] = true } },
  })
  assert(client_id, 'start_client failed')
  vim.lsp.buf_attach_client(buf, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(20000, function() return client.server_capabilities ~= nil and next(client.server_capabilities) ~= nil end, 20),
    'no initialize answer')
  assert(client.server_capabilities.hoverProvider, 'server does not offer hover')

  local state
  assert(vim.wait(60000, function()
    local r = client.request_sync('rapide/status', {}, 5000, buf)
    state = r and r.result and r.result.state
    return state ~= nil and state ~= 'loading'
  end, 50), 'model did not finish loading')
  assert(state == 'ready', 'model state ' .. tostring(state))

  local hover = vim.lsp.buf_request_sync(buf, 'textDocument/hover', {
    textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 0, character = 5 },
  }, 60000)
  local h = hover and hover[client_id]
  assert(h, 'no hover answer')
  assert(not h.err, 'hover error: ' .. vim.inspect(h.err))
  assert(h.result and h.result.contents and h.result.contents.kind == 'markdown', 'hover result ' .. vim.inspect(h.result))

  local completion = vim.lsp.buf_request_sync(buf, 'textDocument/completion', {
    textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 3, character = 10 },
  }, 60000)
  local c = completion and completion[client_id]
  assert(c, 'no completion answer')
  assert(not c.err, 'completion error: ' .. vim.inspect(c.err))
  assert(type(c.result) == 'table' and type(c.result.items) == 'table', 'completion result ' .. vim.inspect(c.result))
  for _, item in ipairs(c.result.items) do
    assert(item.detail == 'rapide (AI-generated)', 'item detail ' .. vim.inspect(item))
    assert(item.textEdit and item.textEdit.newText:sub(1, 2) == 'ad', 'item edit ' .. vim.inspect(item.textEdit))
  end
  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
end)
if ok then
  finish(true, 'hover and completion received')
else
  finish(false, 'FAIL ' .. tostring(err))
end
