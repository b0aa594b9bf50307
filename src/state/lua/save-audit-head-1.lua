--[[
  save-audit-head-1: compare-and-set the head of one audit hash chain on its source position.

  The value is the source position (float64, little-endian, Lua position 1) followed by the
  head as JSON ({"partition","index","hash"}). The write happens only when no head is stored
  yet or the new position is strictly greater than the stored one, so a re-processed chunk or a
  zombie instance cannot move the head back. Sent in the same MULTI as the chunk's state saves
  (src/state/redis-store.ts), so a head and the states it follows are saved together or not at all.

  KEYS[1]  the chain's head key (src/state/keys.ts auditHeadKey)
  ARGV[1]  new position, as a decimal string (JavaScript String(number))
  ARGV[2]  the new value; its own position must equal ARGV[1]

  Returns
     1  saved
     0  stale: the stored position is >= ARGV[1]; nothing written
    -1  bad argument: ARGV[1] is not a finite number, ARGV[2] is shorter than 9 bytes or its position differs
    -3  the stored value is not a head (shorter than 9 bytes or NaN position); nothing written
]]
local new_pos = tonumber(ARGV[1])
local value = ARGV[2]
if new_pos == nil or new_pos ~= new_pos or new_pos == math.huge or new_pos == -math.huge or #value < 9 then
  return -1
end
if struct.unpack('<d', value, 1) ~= new_pos then
  return -1
end
local cur = redis.call('GET', KEYS[1])
if cur then
  if #cur < 9 then
    return -3
  end
  local cur_pos = struct.unpack('<d', cur, 1)
  if cur_pos ~= cur_pos then
    return -3
  end
  if new_pos <= cur_pos then
    return 0
  end
end
redis.call('SET', KEYS[1], value)
return 1
