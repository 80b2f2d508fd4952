-- A rider asks for a driver. ARGV[9] rider, ARGV[10] lng, ARGV[11] lat,
-- ARGV[12] deadline (ms), ARGV[13] the instance that will search.
local rider, lng, lat, expires, owner = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local id = tostring(redis.call('INCR', K_SEQ))
local key = RIDE_PREFIX .. id
redis.call('HSET', key, 'id', id, 'rider', rider, 'lng', lng, 'lat', lat,
  'status', 'SEARCHING', 'searches', 0, 'created', NOW, 'expires', expires,
  'revision', 1, 'owner', owner)
redis.call('ZADD', K_SEARCHING, expires, id)
redis.call('GEOADD', K_PICKUPS, lng, lat, id)
redis.call('SADD', OWNED_PREFIX .. owner, id)
publish_ride(key)
return reply('OK', key)
