-- A small test harness for headless Neovim: named cases, assertions with messages, a summary
-- line ("N passed, N failed[, N skipped]") and the exit status (0 pass, 1 fail, 77 all skipped).
local H = { passed = 0, failed = 0, skipped = 0 }

local function out(s)
  io.stdout:write(s .. '\n')
  io.stdout:flush()
end
H.out = out

-- A case calls H.skip(reason) to skip itself.
local SKIP = {}
function H.skip(reason)
  error({ [SKIP] = true, reason = reason }, 0)
end

function H.eq(got, want, what)
  if not vim.deep_equal(got, want) then
    error(string.format('%s:\n  want %s\n  got  %s', what or 'values differ', vim.inspect(want), vim.inspect(got)), 2)
  end
end

function H.ok(cond, what)
  if not cond then
    error(what or 'assertion failed', 2)
  end
end

--- fn must raise an error whose message contains `pattern` (plain text).
function H.raises(fn, pattern, what)
  local ok, err = pcall(fn)
  if ok then
    error((what or 'expected an error') .. ' containing ' .. pattern .. ', got none', 2)
  end
  if not tostring(err):find(pattern, 1, true) then
    error(string.format('%s: error %q does not contain %q', what or 'wrong error', tostring(err), pattern), 2)
  end
end

function H.case(name, fn)
  local ok, err = xpcall(fn, function(e)
    if type(e) == 'table' and e[SKIP] then
      return e
    end
    return debug.traceback(tostring(e), 2)
  end)
  if ok then
    H.passed = H.passed + 1
    out('ok      ' .. name)
  elseif type(err) == 'table' and err[SKIP] then
    H.skipped = H.skipped + 1
    out('skipped ' .. name .. ': ' .. err.reason)
  else
    H.failed = H.failed + 1
    out('FAILED  ' .. name .. '\n' .. tostring(err))
  end
end

function H.finish()
  local line = string.format('%d passed, %d failed', H.passed, H.failed)
  if H.skipped > 0 then
    line = line .. string.format(', %d skipped', H.skipped)
  end
  out(line)
  if H.failed > 0 then
    vim.cmd('cquit 1')
  elseif H.passed == 0 and H.skipped > 0 then
    vim.cmd('cquit 77')
  else
    vim.cmd('qall!')
  end
end

--- Folder of this plugin (editors/nvim) and of the repository.
H.plugin_dir = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h:h')
H.repo_dir = vim.fn.fnamemodify(H.plugin_dir, ':h:h')

function H.read_json(path)
  local f = assert(io.open(path, 'r'))
  local s = f:read('*a')
  f:close()
  return vim.json.decode(s)
end

return H
