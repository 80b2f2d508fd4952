-- Renews this instance's lease, takes over the searching rides of instances
-- whose lease has run out, and checks this instance's own count.
-- arg(1) this instance, arg(2) the lease (ms), arg(3) how many search tasks
-- this instance runs.
-- Returns {epoch ('' when the store has none), now, n, n adopted ids...,
-- then, when the store counts a different number of rides owned here than
-- the tasks, every ride owned here}.
local me, lease, running = arg(1), tonumber(arg(2)), tonumber(arg(3))
redis.call('ZADD', K_INSTANCES, NOW + lease, me)
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
local out = {redis.call('HGET', K_SEQ, 'epoch') or '', tostring(NOW), tostring(#adopted)}
for _, id in ipairs(adopted) do table.insert(out, id) end
local mine = OWNED_PREFIX .. me
if redis.call('SCARD', mine) ~= running + #adopted then
  for _, id in ipairs(redis.call('SMEMBERS', mine)) do table.insert(out, id) end
end
return out
