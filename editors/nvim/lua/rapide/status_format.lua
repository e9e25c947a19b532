-- Lines of :RapideStatus from a rapide/status answer (see editors/protocol.json). Pure.
local M = {}

function M.bytes(n)
  if type(n) ~= 'number' or n < 0 then
    return '?'
  end
  local units = { 'B', 'KiB', 'MiB', 'GiB', 'TiB' }
  local i = 1
  while n >= 1024 and i < #units do
    n = n / 1024
    i = i + 1
  end
  if i == 1 then
    return string.format('%d B', n)
  end
  return string.format(n < 10 and '%.1f %s' or '%.0f %s', n, units[i])
end

function M.ms(v)
  if type(v) ~= 'number' or v < 0 then
    return '?'
  end
  if v < 1000 then
    return string.format('%d ms', math.floor(v + 0.5))
  end
  return string.format('%.1f s', v / 1000)
end

--- @param st table|nil the answer
--- @param client table|nil the LSP client (for its id and encoding)
function M.lines(st, client)
  local out = {}
  if type(st) ~= 'table' or type(st.state) ~= 'string' then
    return { 'rapide: unexpected rapide/status answer: ' .. vim.inspect(st) }
  end
  local head = 'rapide: ' .. st.state
  if st.state == 'loading' and type(st.loadPercent) == 'number' then
    head = head .. string.format(' (%d%%)', math.floor(st.loadPercent + 0.5))
  end
  table.insert(out, head)
  if type(st.model) == 'string' then table.insert(out, 'model: ' .. st.model) end
  if type(st.device) == 'string' then table.insert(out, 'device: ' .. st.device) end
  if type(st.memoryBytes) == 'number' then table.insert(out, 'memory: ' .. M.bytes(st.memoryBytes)) end
  local lat = type(st.lastLatencyMs) == 'table' and st.lastLatencyMs or {}
  for _, k in ipairs({ 'inlineCompletion', 'hover', 'codeAction' }) do
    if type(lat[k]) == 'number' and lat[k] >= 0 then -- negative: none measured yet
      table.insert(out, string.format('last %s: %s', k, M.ms(lat[k])))
    end
  end
  if type(st.message) == 'string' then table.insert(out, st.message) end
  if client then
    table.insert(out, string.format('client id %d, position encoding %s', client.id, client.offset_encoding or '?'))
  end
  return out
end

return M
