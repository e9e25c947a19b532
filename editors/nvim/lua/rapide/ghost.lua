-- Ghost text: draws one completion candidate with extmarks in a namespace of its own, virtual
-- text for the first line and virtual lines for the rest. Knows nothing of LSP.
--
-- A candidate is { row = 0-based line, col = 0-based byte column of the cursor, text = what
-- would be inserted at the cursor (may contain newlines), replace = bytes after the cursor that
-- the insertion replaces }.
local M = {}

M.hl_group = 'RapideGhostText'

local has_inline = vim.fn.has('nvim-0.10') == 1

function M.define_highlight()
  vim.api.nvim_set_hl(0, M.hl_group, { link = 'Comment', default = true })
end

--- Draws `cand` in buffer `bufnr` (replacing what namespace `ns` showed). Returns the extmark id.
function M.show(bufnr, ns, cand)
  M.clear(bufnr, ns)
  local lines = vim.split(cand.text, '\n', { plain = true })
  local line = vim.api.nvim_buf_get_lines(bufnr, cand.row, cand.row + 1, false)[1] or ''
  local col = math.min(cand.col, #line)
  local rest = line:sub(col + 1 + cand.replace) -- text that stays after the insertion
  local covered = line:sub(col + 1) -- text on screen after the cursor
  local opts = { hl_mode = 'combine', priority = 200 }

  if #lines == 1 and rest == covered and rest ~= '' and has_inline then
    opts.virt_text = { { lines[1], M.hl_group } }
    opts.virt_text_pos = 'inline'
  else
    -- Overlay from the cursor: the first ghost line, then (on a single-line completion) the text
    -- that stays, padded so that nothing of the covered text shows through. Multi-line: the
    -- remainder of the line moves to the end of the last virtual line.
    local first = { { lines[1], M.hl_group } }
    local shown = vim.fn.strdisplaywidth(lines[1])
    if #lines == 1 and rest ~= '' then
      table.insert(first, { rest, 'Normal' })
      shown = shown + vim.fn.strdisplaywidth(rest)
    end
    local width = vim.fn.strdisplaywidth(covered)
    if width > shown then
      table.insert(first, { string.rep(' ', width - shown), 'Normal' })
    end
    opts.virt_text = first
    opts.virt_text_pos = 'overlay'
  end
  if #lines > 1 then
    local virt_lines = {}
    for i = 2, #lines do
      local chunks = { { lines[i], M.hl_group } }
      if i == #lines and rest ~= '' then
        table.insert(chunks, { rest, 'Normal' })
      end
      table.insert(virt_lines, chunks)
    end
    opts.virt_lines = virt_lines
  end
  return vim.api.nvim_buf_set_extmark(bufnr, ns, cand.row, col, opts)
end

function M.clear(bufnr, ns)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

--- What the namespace shows, as text: the first line's virtual text followed by the virtual
--- lines, joined by newlines (ghost-highlighted chunks only). For tests and :RapideStatus.
function M.shown_text(bufnr, ns)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local d = marks[1][4]
  local parts = {}
  local first = {}
  for _, chunk in ipairs(d.virt_text or {}) do
    if chunk[2] == M.hl_group then
      table.insert(first, chunk[1])
    end
  end
  table.insert(parts, table.concat(first))
  for _, vl in ipairs(d.virt_lines or {}) do
    local l = {}
    for _, chunk in ipairs(vl) do
      if chunk[2] == M.hl_group then
        table.insert(l, chunk[1])
      end
    end
    table.insert(parts, table.concat(l))
  end
  return table.concat(parts, '\n'), marks[1][2], marks[1][3]
end

--- Splits off the next word of `text` (leading blanks, then a run of word characters or a run
--- of other non-blank characters; a leading newline with the next line's indentation).
function M.next_word(text)
  local nl = text:match('^\r?\n[ \t]*')
  if nl then
    return nl
  end
  return text:match('^[ \t]*[%w_]+') or text:match('^[ \t]*[^%w_%s]+') or text:match('^[ \t]+') or text
end

--- Splits off the rest of the current line of `text`, or, when it starts with a newline, the
--- newline and the next line.
function M.next_line(text)
  local line = text:match('^[^\n]+')
  if line then
    return line
  end
  return text:match('^\n[^\n]*') or text
end

return M
