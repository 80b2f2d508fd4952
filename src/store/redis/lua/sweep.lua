-- Housekeeping, bounded by arg(1) of each kind, from the indexes' fronts:
-- AVAILABLE and OFFERED drivers silent past the TTL go OFFLINE (published
-- once each; an offer held is declined);
-- OFFLINE drivers silent past the driver retention are removed. (Ended
-- rides need nothing: their hashes expire.) Returns {went offline, removed,
-- the offers this ended, comma-separated}.
local max = tonumber(arg(1))
local offline = prune_silent(max)
local removed = 0
local cutoff = '(' .. (NOW - DRIVER_RETENTION)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_OFFLINE, '-inf', cutoff, 'LIMIT', 0, max)) do
  local key = DRIVER_PREFIX .. id
  if redis.call('HGET', key, 'state') ~= 'ASSIGNED' then
    redis.call('DEL', key)
    removed = removed + 1
  end
  redis.call('ZREM', K_OFFLINE, id)
end
return {offline, removed, table.concat(ENDED, ',')}
