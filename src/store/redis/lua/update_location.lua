-- A driver reports its position. ARGV[9] driver id, ARGV[10] lng, ARGV[11] lat.
-- A new or OFFLINE driver becomes AVAILABLE; an ASSIGNED one stays ASSIGNED.
local id, lng, lat = ARGV[9], ARGV[10], ARGV[11]
local state = redis.call('HGET', SUBJECT, 'state')
redis.call('HSET', SUBJECT, 'lng', lng, 'lat', lat, 'updated', NOW)
if state ~= 'ASSIGNED' then
  redis.call('HSET', SUBJECT, 'state', 'AVAILABLE')
  redis.call('GEOADD', K_AVAILABLE, lng, lat, id)
  redis.call('ZADD', K_SEEN, NOW, id)
  wake_near(lng, lat)
end
return reply('OK', SUBJECT)
