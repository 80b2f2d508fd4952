-- A rider asks for a driver. arg(1) rider, arg(2) lng, arg(3) lat,
-- arg(4) timeout (ms), arg(5) the instance that will search, arg(6) a fresh
-- epoch (used only if the store has none), arg(7) idempotency key ('' for
-- none), arg(8) most rides the rider may have that have not ended (0: any),
-- arg(9), arg(10) the dropoff's lng and lat ('' for none).
-- Ride ids are <epoch>.<n>: the epoch and the counter live in one hash, so
-- a store that lost its data loses both and starts a new epoch: no id is
-- ever handed out twice. Replies EXISTING (the key's ride), ACTIVE with one
-- of the rider's rides (at the limit), or OK with the new ride.
local rider, lng, lat, timeout, owner = arg(1), arg(2), arg(3), tonumber(arg(4)), arg(5)
local idem, max_active = arg(7), tonumber(arg(8))
local idem_key = nil
if idem ~= '' then
  idem_key = IDEM_PREFIX .. rider .. ':' .. idem
  local existing = redis.call('GET', idem_key)
  if existing and redis.call('EXISTS', RIDE_PREFIX .. existing) == 1 then
    return reply('EXISTING', RIDE_PREFIX .. existing)
  end
end
local active = rider_rides(rider)
if max_active > 0 and redis.call('SCARD', active) >= max_active then
  return {'ACTIVE', redis.call('SRANDMEMBER', active)}
end
local epoch = redis.call('HGET', K_SEQ, 'epoch')
if not epoch then
  epoch = arg(6)
  redis.call('HSET', K_SEQ, 'epoch', epoch)
end
local id = epoch .. '.' .. redis.call('HINCRBY', K_SEQ, 'n', 1)
local key = RIDE_PREFIX .. id
local expires = NOW + timeout
redis.call('HSET', key, 'id', id, 'rider', rider, 'lng', lng, 'lat', lat,
  'status', 'SEARCHING', 'searches', 0, 'created', NOW, 'expires', expires,
  'revision', 1, 'owner', owner)
if arg(9) ~= '' then redis.call('HSET', key, 'dropoff_lng', arg(9), 'dropoff_lat', arg(10)) end
redis.call('ZADD', K_SEARCHING, expires, id)
redis.call('GEOADD', K_PICKUPS, lng, lat, id)
redis.call('GEOADD', K_ACTIVE, lng, lat, id)
redis.call('SADD', OWNED_PREFIX .. owner, id)
redis.call('SADD', active, id)
if idem_key then redis.call('SET', idem_key, id, 'PX', timeout) end
publish_ride(key)
return reply('OK', key)
