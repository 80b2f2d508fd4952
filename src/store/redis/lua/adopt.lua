-- Takes over the searching rides of instances whose lease has run out.
-- arg(1) this instance, arg(2) this instance's lease end (ms).
-- Returns the ids of the rides adopted.
local me, lease_end = arg(1), arg(2)
redis.call('ZADD', K_INSTANCES, lease_end, me)
local adopted = {}
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', K_INSTANCES, '-inf', '(' .. NOW, 'LIMIT', 0, 16)) do
  local owned = OWNED_PREFIX .. dead
  for _, id in ipairs(redis.call('SMEMBERS', owned)) do
    local key = RIDE_PREFIX .. id
    if redis.call('HGET', key, 'status') == 'SEARCHING' then
      redis.call('HSET', key, 'owner', me)
      redis.call('SADD', OWNED_PREFIX .. me, id)
      table.insert(adopted, id)
    end
  end
  redis.call('DEL', owned)
  redis.call('ZREM', K_INSTANCES, dead)
end
return adopted
