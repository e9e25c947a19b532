-- :checkhealth rapide
local M = {}

function M.check()
  local h = require('rapide.compat').health()
  h.start('rapide')
  if vim.fn.has('nvim-0.7') == 1 then
    h.ok('Neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) .. '.' .. tostring(vim.version().patch))
  else
    h.error('Neovim 0.7 or newer is needed')
  end
  local session = require('rapide')._session()
  if not session then
    h.warn('setup() has not been called', { 'Add require("rapide").setup({ model = "/path/to/model.gguf" }) to your config' })
    return
  end
  local cfg = session.config
  local cmd = require('rapide.config').server_cmd(cfg)
  if vim.fn.executable(cmd[1]) == 1 then
    h.ok('server executable: ' .. vim.fn.exepath(cmd[1]))
  else
    h.error('server executable not found: ' .. cmd[1], { 'Build rapide and put it on PATH, or set server_path' })
  end
  h.info('server command: ' .. table.concat(cmd, ' '))
  for _, key in ipairs({ 'model', 'draft_model', 'chat_model' }) do
    local path = cfg[key]
    if path ~= '' then
      if vim.fn.filereadable(vim.fn.expand(path)) == 1 then
        h.ok(key .. ': ' .. path)
      else
        h.error(key .. ': file not readable: ' .. path)
      end
    elseif key == 'model' then
      h.warn('no model set: the server runs but answers model features with an error', { 'setup({ model = "/path/to/model.gguf" })' })
    end
  end
  local c = session.client:get()
  if c then
    h.ok(string.format('server running (client id %d, position encoding %s)', c.id, c.offset_encoding or '?'))
    local caps = c.server_capabilities or c.resolved_capabilities or {}
    if caps.inlineCompletionProvider then
      h.ok('server offers inline completions')
    else
      h.warn('server does not advertise inlineCompletionProvider')
    end
  elseif session.client.gave_up then
    h.error('the server crashed repeatedly and was not restarted', { ':RapideLog, then :RapideRestart' })
  else
    h.info('no server running (it starts with the first buffer of an enabled filetype)')
  end
  for _, e in ipairs(session.errors) do
    h.warn('recent error: ' .. e)
  end
end

return M
