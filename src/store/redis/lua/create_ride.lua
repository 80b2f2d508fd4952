-- A rider asks for a driver. arg(1) rider, arg(2) lng, arg(3) lat,
-- arg(4) deadline (ms), arg(5) the instance that will search.
local rider, lng, lat, expires, owner = arg(1), arg(2), arg(3), arg(4), arg(5)
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
