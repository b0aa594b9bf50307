--[[
  save-state-1: compare-and-set an agent's encoded state on its watermark.

  An encoded state is 1 layout byte, then the watermark (float64, little-endian) at byte
  offset 1 (Lua position 2), then the rest (src/core/agent-state.ts). The write happens only
  when no state is stored yet or the new watermark is strictly greater than the stored one, so
  a replayed event is never applied twice and a zombie instance cannot overwrite newer state.
  Atomic: Redis runs the whole script without interleaving other commands.

  KEYS[1]  the agent's state key (src/state/keys.ts stateKey)
  ARGV[1]  new watermark, as a decimal string (JavaScript String(number))
  ARGV[2]  the new encoded state; its own watermark must equal ARGV[1]

  Returns
     1  saved
     0  stale: the stored watermark is >= ARGV[1]; nothing written
    -1  bad argument: ARGV[1] is not a finite number or ARGV[2] is shorter than 9 bytes
    -2  ARGV[2]'s own watermark differs from ARGV[1]
    -3  the stored value is not an encoded state (shorter than 9 bytes or NaN watermark);
        nothing written
]]
local new_wm = tonumber(ARGV[1])
local state = ARGV[2]
if new_wm == nil or new_wm ~= new_wm or new_wm == math.huge or new_wm == -math.huge or #state < 9 then
  return -1
end
if struct.unpack('<d', state, 2) ~= new_wm then
  return -2
end
local cur = redis.call('GET', KEYS[1])
if cur then
  if #cur < 9 then
    return -3
  end
  local cur_wm = struct.unpack('<d', cur, 2)
  if cur_wm ~= cur_wm then
    return -3
  end
  if new_wm <= cur_wm then
    return 0
  end
end
redis.call('SET', KEYS[1], state)
return 1
