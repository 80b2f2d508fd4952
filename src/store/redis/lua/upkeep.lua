-- Upkeep: leases renewed and orphaned rides adopted; the sweep.

-- Renews this instance's lease, takes over the searching rides of
-- instances whose lease has run out, and checks this instance's own count.
-- own(1) this instance, own(2) the lease (ms), own(3) how many search
-- tasks this instance runs for this area.
-- Returns {epoch ('' when the area has none), now, n, n adopted ids...,
-- then, when the area counts a different number of rides owned here than
-- the tasks, every ride owned here}.
local function adopt(keys, args)
  local c = context(keys, args)
  local me, lease, running = own(c, 1), tonumber(own(c, 2)), tonumber(own(c, 3))
  redis.call('ZADD', c.instances, c.now + lease, me)
  local adopted = {}
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', c.instances, '-inf', '(' .. c.now, 'LIMIT', 0, 16)) do
    local owned = owned_key(c, dead)
    for _, id in ipairs(redis.call('SMEMBERS', owned)) do
      local key = ride_key(c, id)
      if redis.call('HGET', key, 'status') == 'SEARCHING' then
        redis.call('HSET', key, 'owner', me)
        redis.call('SADD', owned_key(c, me), id)
        table.insert(adopted, id)
      end
    end
    redis.call('DEL', owned)
    redis.call('ZREM', c.instances, dead)
  end
  local out = {redis.call('HGET', c.ids, 'epoch') or '', tostring(c.now), tostring(#adopted)}
  for _, id in ipairs(adopted) do table.insert(out, id) end
  local mine = owned_key(c, me)
  if redis.call('SCARD', mine) ~= running + #adopted then
    for _, id in ipairs(redis.call('SMEMBERS', mine)) do table.insert(out, id) end
  end
  return out
end

-- Housekeeping, bounded by own(1) of each kind, from the indexes' fronts:
-- AVAILABLE and OFFERED drivers silent past the TTL go OFFLINE (published
-- once each; an offer held is declined); OFFLINE drivers silent past the
-- driver retention are removed. (Ended rides need nothing: their hashes
-- expire.) Returns {went offline, the offers this ended, removed ids...}.
local function sweep(keys, args)
  local c = context(keys, args)
  local max = tonumber(own(c, 1))
  local offline_now = prune_silent(c, max)
  local out = {tostring(offline_now), ''}
  local cutoff = '(' .. (c.now - c.driver_retention)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', c.offline, '-inf', cutoff, 'LIMIT', 0, max)) do
    local d = read_driver(c, id)
    if not d or d.state == 'OFFLINE' then
      redis.call('HDEL', c.last, id)
      redis.call('DEL', driver_key(c, id))
      table.insert(out, id)
    end
    redis.call('ZREM', c.offline, id)
  end
  out[2] = table.concat(c.ended, ',')
  return out
end
