-- A rider asks for a driver. ARGV[10] rider, ARGV[11] lng, ARGV[12] lat,
-- ARGV[13] deadline (ms), ARGV[14] the instance that will search.
local rider, lng, lat, expires, owner = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local id = tostring(redis.call('INCR', K_SEQ))
local key = RIDE_PREFIX .. id
redis.call('HSET', key, 'id', id, 'rider', rider, 'lng', lng, 'lat', lat,
  'status', 'SEARCHING', 'searches', 0, 'created', NOW, 'expires', expires,
  'revision', 1, 'owner', owner)
redis.call('ZADD', K_SEARCHING, expires, id)
redis.call('GEOADD', K_PICKUPS, lng, lat, id)
redis.call('GEOADD', K_ACTIVE, lng, lat, id)
redis.call('SADD', OWNED_PREFIX .. owner, id)
publish_ride(key)
return reply('OK', key)
