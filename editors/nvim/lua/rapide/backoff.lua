-- When to restart a server that died: exponential back-off, and a limit on crashes within a
-- window after which we stop and ask the user. Same policy as the VS Code extension
-- (editors/vscode/src/backoff.ts). Pure; times in milliseconds from any monotonic clock.
local M = {}

M.defaults = { base_delay_ms = 1000, max_delay_ms = 30000, window_ms = 180000, max_crashes = 5 }

local Policy = {}
Policy.__index = Policy

--- @param opts table|nil fields of M.defaults
function M.new(opts)
  opts = vim.tbl_extend('force', M.defaults, opts or {})
  if opts.base_delay_ms <= 0 or opts.max_delay_ms < opts.base_delay_ms or opts.max_crashes < 1 then
    error('rapide: invalid back-off options ' .. vim.inspect(opts))
  end
  return setmetatable({ opts = opts, crashes = {} }, Policy)
end

--- Records a crash at now_ms. Returns { restart = bool, delay_ms = number|nil, crashes = n }.
function Policy:on_crash(now_ms)
  local kept = {}
  for _, t in ipairs(self.crashes) do
    if now_ms - t < self.opts.window_ms then
      table.insert(kept, t)
    end
  end
  table.insert(kept, now_ms)
  self.crashes = kept
  local n = #kept
  if n >= self.opts.max_crashes then
    return { restart = false, crashes = n }
  end
  local delay = math.min(self.opts.max_delay_ms, self.opts.base_delay_ms * 2 ^ (n - 1))
  return { restart = true, delay_ms = delay, crashes = n }
end

function Policy:reset()
  self.crashes = {}
end

return M
