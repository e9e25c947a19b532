-- The contract with the rapide server: custom method names and the settings with their
-- command-line flags. Restates editors/protocol.json; test/unit.lua checks that they agree.
local M = {}

M.settings_section = 'rapide'

M.methods = {
  inlineCompletion = 'textDocument/inlineCompletion',
  status = 'rapide/status',
  metrics = 'rapide/metrics',
}

-- Token of the $/progress reports the server sends while a model loads.
M.progress_token = 'rapide/modelLoad'

M.status_states = { 'loading', 'ready', 'no-model', 'error' }

-- LSP 3.18 InlineCompletionTriggerKind.
M.trigger_kind = { invoked = 1, automatic = 2 }

-- Settings in the order of protocol.json. `flag`: the `rapide serve` option carrying the value
-- (passed when the value differs from the default); `restart`: a change needs a new server.
M.settings = {
  { name = 'serverPath', type = 'string', default = '', restart = true },
  { name = 'modelPath', type = 'string', default = '', flag = '--model', restart = true },
  { name = 'draftModelPath', type = 'string', default = '', flag = '--draft-model', restart = true },
  { name = 'chatModelPath', type = 'string', default = '', flag = '--chat-model', restart = true },
  { name = 'device', type = 'string', default = 'auto', flag = '--device', restart = true, values = { 'auto', 'cpu', 'cuda' } },
  { name = 'speculation', type = 'string', default = 'ngram', flag = '--speculate', restart = true, values = { 'ngram', 'none', 'draft' } },
  { name = 'maxTokens', type = 'integer', default = 128, restart = false, minimum = 1, maximum = 4096 },
  { name = 'enable', type = 'object', default = { ['*'] = true, plaintext = false, markdown = false, scminput = false }, restart = false },
  { name = 'logLevel', type = 'string', default = 'info', flag = '--log-level', restart = true, values = { 'error', 'warn', 'info', 'debug', 'trace' } },
}

return M
