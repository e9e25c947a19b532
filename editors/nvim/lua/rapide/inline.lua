-- Inline completions: asks the server (textDocument/inlineCompletion, LSP 3.18, sent as a raw
-- request since Neovim's client does not know the method), shows the answer as ghost text, and
-- accepts (whole / word / line), dismisses or cycles it. The server debounces; each keystroke
-- sends a request and cancels the previous one. Nothing here blocks: replies arrive through the
-- client's callbacks and are dropped when the buffer or cursor moved on.
local compat = require('rapide.compat')
local ghost = require('rapide.ghost')
local protocol = require('rapide.protocol')

local Inline = {}
Inline.__index = Inline

--- @param session table the setup() session: { config, ns, client_for(bufnr) }
function Inline.new(session)
  return setmetatable({ session = session, buffers = {} }, Inline)
end

local function state(self, bufnr)
  local s = self.buffers[bufnr]
  if not s then
    s = { candidates = {}, index = 1, request = nil }
    self.buffers[bufnr] = s
  end
  return s
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function line_at(bufnr, row)
  return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

function Inline:cancel(bufnr)
  local s = self.buffers[bufnr]
  if s and s.request then
    local client = compat.get_client(s.request.client_id)
    if client then
      compat.call(client, 'cancel_request', s.request.id)
    end
    s.request = nil
  end
end

function Inline:dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  self:cancel(bufnr)
  local s = state(self, bufnr)
  s.candidates, s.index = {}, 1
  ghost.clear(bufnr, self.session.ns)
end

function Inline:visible(bufnr)
  local s = self.buffers[bufnr or vim.api.nvim_get_current_buf()]
  return s ~= nil and s.candidates[s.index] ~= nil
end

function Inline:current(bufnr)
  local s = self.buffers[bufnr]
  return s and s.candidates[s.index]
end

local function render(self, bufnr)
  local s = state(self, bufnr)
  local cand = s.candidates[s.index]
  if cand then
    ghost.show(bufnr, self.session.ns, cand)
  else
    ghost.clear(bufnr, self.session.ns)
  end
end

--- Turns the server's items into candidates at the cursor (row, col): the part of insertText
--- not typed yet. Items whose range does not hold the cursor on one line, or whose text does
--- not start with what the range already contains, are dropped.
function Inline.candidates_from(result, line, row, col, encoding)
  local items = result
  if type(result) == 'table' and result.items then
    items = result.items
  end
  if type(items) ~= 'table' then
    return {}
  end
  local out = {}
  for _, item in ipairs(items) do
    local text = item.insertText
    if type(text) == 'table' then
      -- StringValue snippet: keep the text, drop the tab stops.
      text = tostring(text.value or ''):gsub('%$%b{}', function(m)
        return m:match('^%${%d+:(.*)}$') or ''
      end):gsub('%$%d+', '')
    end
    if type(text) == 'string' then
      local sc, ec = col, col
      local ok = true
      if type(item.range) == 'table' then
        local r = item.range
        if r.start.line ~= row or r['end'].line ~= row then
          ok = false
        else
          sc = compat.byte_col(line, r.start.character, encoding)
          ec = compat.byte_col(line, r['end'].character, encoding)
          ok = sc <= col and col <= ec
        end
      end
      if ok then
        local typed = line:sub(sc + 1, col)
        if text:sub(1, #typed) == typed and #text > #typed then
          table.insert(out, { row = row, col = col, text = text:sub(#typed + 1), replace = ec - col })
        end
      end
    end
  end
  return out
end

--- Sends a request for the cursor position of the current window's buffer.
function Inline:request(trigger_kind)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = self.session.client_for(bufnr)
  if not client then
    return false
  end
  self:cancel(bufnr)
  local row, col = cursor()
  local line = line_at(bufnr, row)
  local encoding = client.offset_encoding or 'utf-16'
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = compat.char_index(line, col, encoding) },
    context = { triggerKind = trigger_kind or protocol.trigger_kind.automatic },
  }
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local s = state(self, bufnr)
  local req = { client_id = client.id }
  local ok, id = compat.call(client, 'request', protocol.methods.inlineCompletion, params, function(err, result)
    if s.request ~= req then
      return -- superseded or cancelled
    end
    s.request = nil
    local function still_here()
      if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then
        return false
      end
      local r, c = cursor()
      return vim.api.nvim_buf_get_changedtick(bufnr) == tick and r == row and c == col
        and vim.api.nvim_get_mode().mode:match('^i') ~= nil
    end
    if err then
      if err.code == -32800 or err.code == -32801 then
        return -- cancelled or content modified: expected while typing
      end
      self.session.log_error(protocol.methods.inlineCompletion .. ': ' .. tostring(err.message or vim.inspect(err)))
      -- RequestFailed while the model loads: ask again for the same position once it may be
      -- ready, as long as the user stays there.
      if err.code == -32803 and tostring(err.message):find('loading') then
        vim.defer_fn(function()
          if still_here() and not s.request then
            self:request(trigger_kind)
          end
        end, 1000)
      end
      return
    end
    if not still_here() then
      self.session.last_reply = { at = { row, col }, stale = true }
      return -- stale: the user moved on; a newer request is on its way
    end
    s.candidates = Inline.candidates_from(result, line, row, col, encoding)
    -- What the last answer held, for :RapideStatus and tests.
    local n_items = type(result) == 'table' and #(result.items or result) or 0
    self.session.last_reply = { at = { row, col }, items = n_items, shown = #s.candidates }
    s.index = 1
    render(self, bufnr)
    self.session.on_shown(bufnr)
  end, bufnr)
  if ok then
    req.id = id
    s.request = req
  end
  return ok
end

--- After the buffer changed in insert mode: keeps the candidates whose text the user typed
--- ahead (or accepted in part) and moves them to the cursor, drops the others.
--- Returns true when a candidate is still shown.
--- `row`, `col`: the cursor (0-based row, byte column); default: the current window's.
function Inline:advance(bufnr, row, col)
  local s = self.buffers[bufnr]
  if not s or #s.candidates == 0 then
    return false
  end
  if not row then
    row, col = cursor()
  end
  local kept = {}
  local cur = s.candidates[s.index]
  local new_index = 1
  for i, cand in ipairs(s.candidates) do
    if row == cand.row and col >= cand.col then
      local typed = line_at(bufnr, row):sub(cand.col + 1, col)
      if #typed < #cand.text and cand.text:sub(1, #typed) == typed then
        table.insert(kept, { row = row, col = col, text = cand.text:sub(#typed + 1), replace = cand.replace })
        if i == s.index then
          new_index = #kept
        end
      end
    elseif row > cand.row then
      -- An accepted newline: what was typed spans lines.
      local typed = table.concat(vim.api.nvim_buf_get_lines(bufnr, cand.row, row + 1, false), '\n')
      typed = typed:sub(cand.col + 1, #typed - (#line_at(bufnr, row) - col))
      if #typed < #cand.text and cand.text:sub(1, #typed) == typed then
        table.insert(kept, { row = row, col = col, text = cand.text:sub(#typed + 1), replace = cand.replace })
        if i == s.index then
          new_index = #kept
        end
      end
    end
  end
  s.candidates = kept
  s.index = (cur and kept[new_index]) and new_index or 1
  render(self, bufnr)
  return #kept > 0
end

--- Inserts `text` at the current candidate's position (replacing what it replaces when
--- `whole`) and moves the cursor after it.
local function insert(self, bufnr, cand, text, whole)
  local lines = vim.split(text, '\n', { plain = true })
  local end_col = cand.col + (whole and cand.replace or 0)
  vim.api.nvim_buf_set_text(bufnr, cand.row, cand.col, cand.row, end_col, lines)
  local row = cand.row + #lines - 1
  local col = (#lines == 1) and (cand.col + #lines[1]) or #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + 1, col })
  return row, col
end

--- Accepts the shown completion: 'all', 'word' or 'line'. Returns false when none is shown.
function Inline:accept(what)
  local bufnr = vim.api.nvim_get_current_buf()
  local cand = self:current(bufnr)
  if not cand then
    return false
  end
  self:cancel(bufnr)
  if what == 'word' or what == 'line' then
    local part = what == 'word' and ghost.next_word(cand.text) or ghost.next_line(cand.text)
    if #part < #cand.text then
      local row, col = insert(self, bufnr, cand, part, false)
      self:advance(bufnr, row, col)
      return true
    end
  end
  insert(self, bufnr, cand, cand.text, true)
  self:dismiss(bufnr)
  return true
end

--- Shows the next (step 1) or previous (step -1) candidate.
function Inline:cycle(step)
  local bufnr = vim.api.nvim_get_current_buf()
  local s = self.buffers[bufnr]
  if not s or #s.candidates < 2 then
    return false
  end
  s.index = (s.index - 1 + step) % #s.candidates + 1
  render(self, bufnr)
  return true
end

function Inline:forget(bufnr)
  self:cancel(bufnr)
  self.buffers[bufnr] = nil
end

return Inline
