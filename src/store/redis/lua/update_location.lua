-- A driver reports its position. ARGV[9] driver id, ARGV[10] lng,
-- ARGV[11] lat, ARGV[12] fastest plausible speed (km/h), ARGV[13] GPS
-- jitter allowed on top (km).
-- A new or OFFLINE driver becomes AVAILABLE; an ASSIGNED one stays ASSIGNED.
-- A jump faster than plausible is refused and changes nothing.
local id, lng, lat = ARGV[9], ARGV[10], ARGV[11]
local max_kmh, jitter = tonumber(ARGV[12]), tonumber(ARGV[13])
local last = redis.call('HMGET', SUBJECT, 'state', 'lng', 'lat', 'updated')
local state = last[1]
if state then
  local hours = math.max(NOW - tonumber(last[4]), 0) / 3600000
  local km = distance_km(tonumber(last[2]), tonumber(last[3]), tonumber(lng), tonumber(lat))
  if km > max_kmh * hours + jitter then
    return {'IMPLAUSIBLE', 'km', tostring(km), 'seconds', tostring(hours * 3600)}
  end
end
redis.call('HSET', SUBJECT, 'lng', lng, 'lat', lat, 'updated', NOW)
if state ~= 'ASSIGNED' then
  redis.call('HSET', SUBJECT, 'state', 'AVAILABLE')
  redis.call('GEOADD', K_AVAILABLE, lng, lat, id)
  redis.call('ZADD', K_SEEN, NOW, id)
  wake_near(lng, lat)
end
return reply('OK', SUBJECT)
