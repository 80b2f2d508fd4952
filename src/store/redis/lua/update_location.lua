-- A driver reports its position. ARGV[10] driver id, ARGV[11] lng,
-- ARGV[12] lat, ARGV[13] fastest plausible speed (km/h), ARGV[14] GPS
-- jitter allowed on top (km).
-- A new or OFFLINE driver becomes AVAILABLE; an ASSIGNED one stays ASSIGNED.
-- A jump faster than plausible is refused and changes nothing.
local id, lng, lat = ARGV[10], ARGV[11], ARGV[12]
local max_kmh, jitter = tonumber(ARGV[13]), tonumber(ARGV[14])
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
publish_driver(id)
return reply('OK', SUBJECT)
