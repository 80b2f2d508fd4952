-- Batched matching: what a window of an area sees, claiming its pairs,
-- and the area's batch lease.

-- A window's view of the area. own(1) most rides, own(2) most drivers,
-- own(3) the match radius (km), own(4) candidates a ride needs (past the
-- most drivers, each ride's nearest are read).
-- Returns {rides, drivers}: rides {{id, lng, lat, created, batches,
-- declined drivers...}, ...}, SEARCHING with no offer and before their
-- deadline, half those due first and half the newest (a ride past its
-- deadline is its task's to expire); drivers {id, lng, lat, ...}, fresh and AVAILABLE.
local function batch_window(keys, args)
  local c = context(keys, args)
  local max_rides, max_drivers = tonumber(own(c, 1)), tonumber(own(c, 2))
  local radius, per_ride = tonumber(own(c, 3)), tonumber(own(c, 4))
  prune_silent(c, 64)
  local rides = {}
  -- Half those due first, the rest the newest: past the most rides, a
  -- new ride is never kept out by older ones waiting for nobody.
  local ids = redis.call('ZRANGEBYSCORE', c.searching, '(' .. c.now, '+inf', 'LIMIT', 0, math.ceil(max_rides / 2))
  local taken = {}
  for _, id in ipairs(ids) do taken[id] = true end
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', c.searching, '+inf', '(' .. c.now, 'LIMIT', 0, max_rides - #ids)) do
    if not taken[id] then
      taken[id] = true
      table.insert(ids, id)
    end
  end
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', ride_key(c, id), 'status', 'lng', 'lat', 'created', 'batches', 'offer_driver')
    if r[1] == 'SEARCHING' and not r[6] then
      local row = {id, r[2], r[3], r[4], r[5] or '0'}
      for _, d in ipairs(redis.call('SMEMBERS', declined_key(c, id))) do table.insert(row, d) end
      table.insert(rides, row)
    end
  end
  local drivers = {}
  local members
  if redis.call('ZCARD', c.available) <= max_drivers then
    members = redis.call('ZRANGE', c.available, 0, -1)
  else
    -- More drivers than a window reads: those near its rides, each ride's
    -- nearest first, so no ride misses the drivers beside it.
    members = {}
    local seen = {}
    for _, row in ipairs(rides) do
      local near = redis.call('GEOSEARCH', c.available, 'FROMLONLAT', row[2], row[3],
        'BYRADIUS', radius, 'km', 'ASC', 'COUNT', per_ride + #row - 5)
      for _, id in ipairs(near) do
        if not seen[id] and #members < max_drivers then
          seen[id] = true
          table.insert(members, id)
        end
      end
    end
  end
  -- In chunks: Lua's unpack takes a few thousand values at most.
  for first = 1, #members, 1000 do
    local chunk = {}
    for i = first, math.min(first + 999, #members) do table.insert(chunk, members[i]) end
    local lasts = redis.call('HMGET', c.last, unpack(chunk))
    for i, id in ipairs(chunk) do
      local d = parse(lasts[i])
      if d and d.state == 'AVAILABLE' and fresh(c, d) then
        table.insert(drivers, id)
        table.insert(drivers, d.lng)
        table.insert(drivers, d.lat)
      end
    end
  end
  return {rides, drivers}
end

-- Claims a window's pairs, each on its own: own(1) radius (km), own(2) how
-- long an offer waits (ms; 0: assign), own(3) the number of pairs, own(4)
-- the rides in the window (noted in `T:batch:last`), then five arguments a
-- pair (ride, driver, eta seconds, road km, source), then the window's
-- rides that lost their candidates to others. A pair whose ride is still SEARCHING
-- with no offer before its deadline, and whose driver is still fresh,
-- AVAILABLE, within the radius and not offered the ride before, is given
-- (see `give`); the rides of the other pairs, and the unmatched, count one
-- more window (`batches`). Returns the rides given, each as HGETALL.
local function claim_batch(keys, args)
  local c = context(keys, args)
  local radius, offer_ms, n = tonumber(own(c, 1)), tonumber(own(c, 2)), tonumber(own(c, 3))
  local window_rides = tonumber(own(c, 4))
  local given = {}
  for i = 0, n - 1 do
    local at = 5 + i * 5
    local id, driver = own(c, at), own(c, at + 1)
    local key = ride_key(c, id)
    local r = redis.call('HMGET', key, 'status', 'lng', 'lat', 'expires', 'offer_driver')
    local claimed = false
    if r[1] == 'SEARCHING' and not r[5] and c.now < tonumber(r[4]) then
      local d = read_driver(c, driver)
      if d and d.state == 'AVAILABLE' and fresh(c, d)
          and redis.call('SISMEMBER', declined_key(c, id), driver) == 0 then
        local km = distance_km(tonumber(r[2]), tonumber(r[3]), tonumber(d.lng), tonumber(d.lat))
        if km <= radius then
          local pick = {driver, tostring(km), d, own(c, at + 2), own(c, at + 3), own(c, at + 4)}
          give(c, key, id, pick, offer_ms)
          table.insert(given, redis.call('HGETALL', key))
          claimed = true
        end
      end
    end
    if not claimed and r[1] == 'SEARCHING' then redis.call('HINCRBY', key, 'batches', 1) end
  end
  for i = 5 + n * 5, #c.args - NOW_ARGS do
    local key = ride_key(c, own(c, i))
    if redis.call('HGET', key, 'status') == 'SEARCHING' then redis.call('HINCRBY', key, 'batches', 1) end
  end
  redis.call('HSET', c.tag .. ':batch:last', 'rides', window_rides, 'matched', #given, 'at', c.now)
  return given
end

-- What the area's last window did: {rides, matched, at} or {}.
local function last_batch(keys, args)
  local c = context(keys, args)
  local r = redis.call('HMGET', c.tag .. ':batch:last', 'rides', 'matched', 'at')
  if not r[1] then return {} end
  return r
end

-- Takes or renews the area's batch lease: own(1) the instance, own(2) how
-- long (ms). 1 when the instance holds it now, 0 while another does.
local function batch_lease(keys, args)
  local c = context(keys, args)
  local key = c.tag .. ':batch:lease'
  local holder = redis.call('GET', key)
  if holder and holder ~= own(c, 1) then return 0 end
  redis.call('SET', key, own(c, 1), 'PX', own(c, 2))
  return 1
end
