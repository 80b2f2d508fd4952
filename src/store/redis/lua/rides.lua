-- The rides' functions: created, searched for (matched or offered), the
-- offer answered, moved through the trip, expired.

-- A rider asks for a driver. own(1) rider, own(2) lng, own(3) lat,
-- own(4) timeout (ms), own(5) the instance that will search, own(6) a fresh
-- epoch (used only if the area has none), own(7) idempotency key ('' for
-- none), own(8) most rides the rider may have that have not ended (0: any),
-- own(9), own(10) the dropoff's lng and lat ('' for none), own(11) the
-- ride id's prefix (`<area>:`, or '' in the default area).
-- Ride ids are <prefix><epoch>.<n>: the epoch and the counter live in one
-- hash, so an area that lost its data loses both and starts a new epoch:
-- no id is ever handed out twice. Replies EXISTING (the key's ride), ACTIVE
-- with one of the rider's rides (at the limit), or OK with the new ride.
local function create_ride(keys, args)
  local c = context(keys, args)
  local rider, lng, lat, timeout, owner = own(c, 1), own(c, 2), own(c, 3), tonumber(own(c, 4)), own(c, 5)
  local idem, max_active = own(c, 7), tonumber(own(c, 8))
  local idem_key = nil
  if idem ~= '' then
    idem_key = c.tag .. ':idem:' .. rider .. ':' .. idem
    local existing = redis.call('GET', idem_key)
    if existing and redis.call('EXISTS', ride_key(c, existing)) == 1 then
      return reply(c, 'EXISTING', ride_key(c, existing))
    end
  end
  local active = rider_rides(c, rider)
  if max_active > 0 and redis.call('SCARD', active) >= max_active then
    return {'ACTIVE', redis.call('SRANDMEMBER', active)}
  end
  local epoch = redis.call('HGET', c.ids, 'epoch')
  if not epoch then
    epoch = own(c, 6)
    redis.call('HSET', c.ids, 'epoch', epoch)
  end
  local id = own(c, 11) .. epoch .. '.' .. redis.call('HINCRBY', c.ids, 'n', 1)
  local key = ride_key(c, id)
  local expires = c.now + timeout
  redis.call('HSET', key, 'id', id, 'rider', rider, 'lng', lng, 'lat', lat,
    'status', 'SEARCHING', 'searches', 0, 'created', c.now, 'expires', expires,
    'revision', 1, 'owner', owner)
  if own(c, 9) ~= '' then redis.call('HSET', key, 'dropoff_lng', own(c, 9), 'dropoff_lat', own(c, 10)) end
  redis.call('ZADD', c.searching, expires, id)
  redis.call('GEOADD', c.pickups, lng, lat, id)
  redis.call('GEOADD', c.active, lng, lat, id)
  redis.call('SADD', owned_key(c, owner), id)
  redis.call('SADD', active, id)
  if idem_key then redis.call('SET', idem_key, id, 'PX', timeout) end
  publish_ride(c, key, 'RIDE_REQUESTED')
  return reply(c, 'OK', key)
end

-- Gives the ride (its hash `key`, its id) to the driver picked (as
-- `pick_driver` returns it): offered for `offer_ms` when that is not 0,
-- else assigned (DRIVER_FOUND), with its time to the pickup; published.
-- Returns OFFERED or MATCHED.
local function give(c, key, id, pick, offer_ms)
  local driver, km, d = pick[1], pick[2], pick[3]
  if offer_ms > 0 then
    set_state(c, driver, d, 'OFFERED', id)
    local rev = redis.call('HINCRBY', key, 'revision', 1)
    redis.call('HSET', key, 'offer_driver', driver, 'offer_km', km, 'offer_at', c.now,
      'offer_expires', c.now + offer_ms, 'offer_rev', rev,
      'offer_eta_s', pick[4], 'offer_eta_km', pick[5], 'offer_eta_src', pick[6])
    publish_ride(c, key, 'RIDE_OFFERED')
    return 'OFFERED'
  end
  set_state(c, driver, d, 'ASSIGNED', id)
  redis.call('HSET', key, 'driver', driver, 'distance', km, 'matched', c.now,
    'eta_s', pick[4], 'eta_km', pick[5], 'eta_src', pick[6])
  set_status(c, key, 'DRIVER_FOUND')
  end_search(c, key, id)
  if c.log then watch_approach(c, driver, key, id) end
  publish_ride(c, key, 'DRIVER_FOUND')
  return 'MATCHED'
end

-- The driver a search picks for the ride at `at` (its lng, lat), fresh,
-- AVAILABLE, within `radius` and not in `declined`, as {id, km, d, eta
-- seconds, road km, source}. own(6) 'N': the nearest, its time the
-- straight-line estimate (own(7) detour factor, own(8) km/h); own(6) 'R':
-- the first such of the candidates that follow, fastest first, four
-- arguments each (id, eta seconds, road km, source).
local function pick_driver(c, at, radius, declined)
  if own(c, 6) == 'R' then
    local lng, lat = tonumber(at[1]), tonumber(at[2])
    local i = 7
    while own(c, i) do
      local id = own(c, i)
      local d = read_driver(c, id)
      if d and d.state == 'AVAILABLE' and fresh(c, d) then
        local km = distance_km(lng, lat, tonumber(d.lng), tonumber(d.lat))
        if km <= radius and redis.call('SISMEMBER', declined, id) == 0 then
          return {id, tostring(km), d, own(c, i + 1), own(c, i + 2), own(c, i + 3)}
        end
      end
      i = i + 4
    end
    return nil
  end
  -- (defaults for a caller that predates the pick: a rolling upgrade)
  local detour, speed = tonumber(own(c, 7)) or 1.4, tonumber(own(c, 8)) or 20
  for _, hit in ipairs(nearest(c, at[1], at[2], radius, redis.call('SCARD', declined) + 1)) do
    if redis.call('SISMEMBER', declined, hit[1]) == 0 then
      local road = tonumber(hit[2]) * detour
      local seconds = math.floor(road / math.max(speed, 0.1) * 3600 + 0.5)
      return {hit[1], hit[2], hit[3], tostring(seconds), tostring(road), 'STRAIGHT_LINE'}
    end
  end
  return nil
end

-- One search for a ride, atomically. own(1) ride id, own(2) radius (km),
-- own(3) the searching instance, own(4) how long an offer waits for its
-- answer (ms; 0: no offers, assign at once), own(5) the offers a driver may
-- let time out in a row before it goes OFFLINE (0: any number), then how
-- to pick (see `pick_driver`).
-- Past its deadline the ride EXPIRES (withdrawing any offer): ENDED. A ride
-- another instance owns now is left to it: ELSEWHERE. An offer that still
-- waits: OFFERED, as it is. One past its deadline times out (that driver
-- is never offered the ride again); then the driver picked is offered it
-- (OFFERED) or, without offers, assigned (MATCHED), with its time to the
-- pickup; none: NO_DRIVER.
local function try_match(keys, args)
  local c = context(keys, args)
  local key = c.subject
  local id, radius, me = own(c, 1), tonumber(own(c, 2)), own(c, 3)
  local offer_ms, ignore_limit = tonumber(own(c, 4)), tonumber(own(c, 5))
  if redis.call('EXISTS', key) == 0 then return {'NOT_FOUND'} end
  if expire_if_due(c, key, id) ~= 'SEARCHING' then return reply(c, 'ENDED', key) end
  if redis.call('HGET', key, 'owner') ~= me then return reply(c, 'ELSEWHERE', key) end
  local waiting = redis.call('HGET', key, 'offer_expires')
  if waiting then
    if c.now < tonumber(waiting) then return reply(c, 'OFFERED', key) end
    end_offer(c, key, id, 'TIMED_OUT', ignore_limit, false)
  end
  redis.call('HINCRBY', key, 'searches', 1)
  local at = redis.call('HMGET', key, 'lng', 'lat')
  local pick = pick_driver(c, at, radius, declined_key(c, id))
  if not pick then return reply(c, 'NO_DRIVER', key) end
  return reply(c, give(c, key, id, pick, offer_ms), key)
end

-- A driver (or a dispatcher) answers a ride's offer. own(1) ride id,
-- own(2) the driver answering ('' for whoever holds it), own(3) '1' to
-- accept, '0' to decline. Replies NO_OFFER or TIMED_OUT (changing
-- nothing), or OK with the ride and `_offered`, when the offer answered
-- was made.
local function answer_offer(keys, args)
  local c = context(keys, args)
  local key = c.subject
  local id, driver, accept = own(c, 1), own(c, 2), own(c, 3) == '1'
  if redis.call('EXISTS', key) == 0 then return {'NOT_FOUND'} end
  expire_if_due(c, key, id)
  local o = redis.call('HMGET', key, 'offer_driver', 'offer_expires', 'offer_at')
  if not o[1] or (driver ~= '' and o[1] ~= driver) then return reply(c, 'NO_OFFER', key) end
  if c.now >= tonumber(o[2]) then return reply(c, 'TIMED_OUT', key) end
  end_offer(c, key, id, accept and 'ACCEPTED' or 'DECLINED', 0, false)
  local flat = redis.call('HGETALL', key)
  table.insert(flat, 1, 'OK')
  table.insert(flat, '_offered')
  table.insert(flat, o[3])
  return finish(c, flat)
end

-- The event each step's status is.
local STEP_EVENT = {ARRIVED = 'DRIVER_ARRIVED', IN_PROGRESS = 'TRIP_STARTED',
  COMPLETED = 'RIDE_COMPLETED', CANCELLED = 'RIDE_CANCELLED'}

-- Moves a ride one step on. own(1) ride id, own(2) the status it leads to,
-- then the statuses the step applies to (the domain's `Step` table, passed
-- by the Rust side so the rules live in one place). Cancelling a CANCELLED
-- ride returns it as it is; a status the step does not apply to is a
-- CONFLICT. An offer is withdrawn; a ride that ends frees its driver.
local function advance(keys, args)
  local c = context(keys, args)
  local key = c.subject
  local id, to = own(c, 1), own(c, 2)
  if redis.call('EXISTS', key) == 0 then return {'NOT_FOUND'} end
  local status = expire_if_due(c, key, id)
  if to == 'CANCELLED' and status == 'CANCELLED' then return reply(c, 'OK', key) end
  local applies = false
  for i = NOW_ARGS + 3, #args do
    if args[i] == status then applies = true end
  end
  if not applies then return reply(c, 'CONFLICT', key) end
  end_offer(c, key, id, 'WITHDRAWN', 0, false)
  set_status(c, key, to)
  if status == 'SEARCHING' then end_search(c, key, id) end
  -- The ride's change first: its driver is free because it ended.
  publish_ride(c, key, STEP_EVENT[to])
  if to == 'CANCELLED' or to == 'COMPLETED' then
    local driver = redis.call('HGET', key, 'driver')
    if driver then release_driver(c, driver, id) end
  end
  return reply(c, 'OK', key)
end

-- Expires a SEARCHING ride once its deadline has passed. own(1) ride id.
local function expire_ride(keys, args)
  local c = context(keys, args)
  if redis.call('EXISTS', c.subject) == 0 then return {'NOT_FOUND'} end
  expire_if_due(c, c.subject, own(c, 1))
  return reply(c, 'OK', c.subject)
end
