--[[
  save-many: compare-and-set many records on the source position each carries, in one call.

  One script for every kind of saved record (agent states, audit chain heads): a record is a
  byte string with a float64 (little-endian) position at a fixed byte offset — the watermark of
  an agent state at offset 1 (Lua position 2, src/core/agent-state.ts), the source position of an
  audit head at offset 0 (Lua position 1, src/state/store.ts). Nothing else about the record is
  read, so records may grow. A record is written only when nothing is stored yet or its
  position is strictly greater than the stored one, so a replayed event is never applied twice
  and a zombie instance cannot overwrite newer state. Atomic: Redis runs the whole call without
  interleaving other commands, so a chunk's states and its audit head are saved together.

  A record lives in a hash field (agent states, bucketed: src/state/keys.ts stateBucketKey) or
  is a whole string key (audit heads: field "").

  KEYS     the distinct keys of the call (on Redis Cluster all in one slot: the caller groups them)
  ARGV     5 per record: key index (1-based into KEYS), field ("" = the key itself),
           Lua position of the float64 (1 or 2), new position (decimal string), the record
           (its own float64 at that position must equal the new position)

  Returns one code per record, in order:
     1  saved
     0  stale: the stored position is >= the new one; nothing written
    -1  bad argument: the new position is not a finite number, or the record is too short
    -2  the record's own position differs from the new position
    -3  the stored record is unreadable (too short or a NaN position); nothing written
    -4  the key holds another type than expected (hash for fields, string for whole keys)
]]
local out = {}
local types = {}
for i = 1, #ARGV, 5 do
  local ki = tonumber(ARGV[i])
  local key = ki and KEYS[ki]
  local field = ARGV[i + 1]
  local at = tonumber(ARGV[i + 2])
  local new_pos = tonumber(ARGV[i + 3])
  local value = ARGV[i + 4]
  local code
  if key == nil or at == nil or new_pos == nil or new_pos ~= new_pos or new_pos == math.huge or new_pos == -math.huge or #value < at + 7 then
    code = -1
  elseif struct.unpack('<d', value, at) ~= new_pos then
    code = -2
  else
    local t = types[ki]
    if t == nil then
      t = redis.call('TYPE', key)['ok']
      types[ki] = t
    end
    if (field == '' and t ~= 'string' and t ~= 'none') or (field ~= '' and t ~= 'hash' and t ~= 'none') then
      code = -4
    else
      local cur
      if field == '' then cur = redis.call('GET', key) else cur = redis.call('HGET', key, field) end
      code = 1
      if cur then
        if #cur < at + 7 then
          code = -3
        else
          local cur_pos = struct.unpack('<d', cur, at)
          if cur_pos ~= cur_pos then
            code = -3
          elseif new_pos <= cur_pos then
            code = 0
          end
        end
      end
      if code == 1 then
        if field == '' then redis.call('SET', key, value) else redis.call('HSET', key, field, value) end
        if field == '' then types[ki] = 'string' else types[ki] = 'hash' end
      end
    end
  end
  out[#out + 1] = code
end
return out
