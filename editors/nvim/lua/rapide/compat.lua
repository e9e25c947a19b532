-- The few API differences between Neovim 0.7 (Debian 12) and current releases, in one place.
local M = {}

M.nvim_0_8 = vim.fn.has('nvim-0.8') == 1
M.nvim_0_11 = vim.fn.has('nvim-0.11') == 1

--- client:method(...) on 0.11+, client.method(...) before.
function M.call(client, method, ...)
  if M.nvim_0_11 then
    return client[method](client, ...)
  end
  return client[method](...)
end

--- 0-based byte column of LSP character `index` on `line` in `encoding`.
function M.byte_col(line, index, encoding)
  if encoding == 'utf-8' then
    return math.min(index, #line)
  end
  local ok, col
  if M.nvim_0_11 then
    ok, col = pcall(vim.str_byteindex, line, encoding, index, false)
  else
    ok, col = pcall(vim.str_byteindex, line, index, encoding == 'utf-16')
  end
  if not ok then
    return #line
  end
  return col
end

--- LSP character index of 0-based byte column `col` on `line` in `encoding`.
function M.char_index(line, col, encoding)
  col = math.min(col, #line)
  if encoding == 'utf-8' then
    return col
  end
  if M.nvim_0_11 then
    return vim.str_utfindex(line, encoding, col, false)
  end
  local utf32, utf16 = vim.str_utfindex(line, col)
  return encoding == 'utf-16' and utf16 or utf32
end

M.uv = vim.uv or vim.loop

--- vim.validate over a table spec { name = { value, validator, optional_or_message } }: the
--- table form on 0.7-0.10, one call per entry with the newer signature on 0.11+.
function M.validate(spec)
  if not M.nvim_0_11 then
    return vim.validate(spec)
  end
  for name, s in pairs(spec) do
    if type(s[3]) == 'string' then
      vim.validate(name, s[1], s[2], false, s[3])
    else
      vim.validate(name, s[1], s[2], s[3] or false)
    end
  end
end

function M.get_client(id)
  return vim.lsp.get_client_by_id(id)
end

--- Health report functions: vim.health on 0.8+, require('health') on 0.7.
function M.health()
  local h = vim.health
  if h and h.start then
    return { start = h.start, ok = h.ok, warn = h.warn, error = h.error, info = h.info }
  end
  h = vim.health or require('health')
  return { start = h.report_start, ok = h.report_ok, warn = h.report_warn, error = h.report_error, info = h.report_info }
end

return M
