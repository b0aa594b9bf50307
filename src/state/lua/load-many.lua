--[[
  load-many: the stored records of many hash fields, in one call (one command instead of one
  HMGET per state bucket: far less work per agent for the client and the server).

  KEYS   the distinct bucket keys of the call (on Redis Cluster all in one slot: the caller groups them)
  ARGV   2 per record: key index (1-based into KEYS), field

  Returns one reply per record, in order: the stored bytes, or nil when nothing is stored.
  A key holding another type than a hash fails the call with WRONGTYPE.
]]
local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = redis.call('HGET', KEYS[tonumber(ARGV[i])], ARGV[i + 1])
end
return out
