-- Shared steps of a ride's and a driver's life: an offer ended, a ride
-- expired, a driver released or taken off the market, the nearest drivers.

-- Ends the ride's outstanding offer for `reason` (ACCEPTED, DECLINED,
-- TIMED_OUT, WITHDRAWN), as one revision of the ride, published. The
-- driver: ASSIGNED when accepted; otherwise back on the market, or OFFLINE
-- when `offline` is set, when it fell silent, or when it let `ignore_limit`
-- offers in a row time out. A driver who declined or timed out is never
-- offered the ride again.
local function end_offer(c, key, id, reason, ignore_limit, offline)
  local o = redis.call('HMGET', key, 'offer_driver', 'offer_km', 'expires',
    'offer_eta_s', 'offer_eta_km', 'offer_eta_src')
  local driver = o[1]
  if not driver then return end
  local dkey = driver_key(c, driver)
  local d = read_driver(c, driver)
  if d and d.state == 'OFFERED' and redis.call('HGET', dkey, 'ride') == id then
    if reason == 'ACCEPTED' then
      redis.call('HSET', dkey, 'ignored', 0)
      set_state(c, driver, d, 'ASSIGNED', id)
    else
      if reason == 'DECLINED' then redis.call('HSET', dkey, 'ignored', 0) end
      if reason == 'TIMED_OUT' then
        local n = redis.call('HINCRBY', dkey, 'ignored', 1)
        if ignore_limit > 0 and n >= ignore_limit then offline = true end
      end
      if offline or not fresh(c, d) then
        set_state(c, driver, d, 'OFFLINE', nil)
      else
        set_state(c, driver, d, 'AVAILABLE', nil)
      end
    end
  end
  if reason == 'DECLINED' or reason == 'TIMED_OUT' then
    local declined = declined_key(c, id)
    redis.call('SADD', declined, driver)
    redis.call('PEXPIREAT', declined, tonumber(o[3]) + 60000)
  end
  local rev = redis.call('HINCRBY', key, 'revision', 1)
  redis.call('HDEL', key, 'offer_driver', 'offer_km', 'offer_at', 'offer_expires', 'offer_rev',
    'offer_eta_s', 'offer_eta_km', 'offer_eta_src')
  redis.call('HSET', key, 'end_driver', driver, 'end_reason', reason, 'end_rev', rev)
  if reason == 'ACCEPTED' then
    redis.call('HSET', key, 'status', 'DRIVER_FOUND', 'driver', driver, 'distance', o[2], 'matched', c.now)
    if o[4] then redis.call('HSET', key, 'eta_s', o[4], 'eta_km', o[5], 'eta_src', o[6]) end
    end_search(c, key, id)
    if c.log then watch_approach(c, driver, key, id) end
  end
  table.insert(c.ended, reason)
  publish_ride(c, key, 'OFFER_ENDED', reason == 'ACCEPTED' and 'DRIVER_FOUND' or nil)
end

-- Expires a SEARCHING ride whose deadline has passed (withdrawing its
-- offer); returns its status.
local function expire_if_due(c, key, id)
  local r = redis.call('HMGET', key, 'status', 'expires')
  if r[1] == 'SEARCHING' and c.now >= tonumber(r[2]) then
    end_offer(c, key, id, 'WITHDRAWN', 0, false)
    set_status(c, key, 'EXPIRED')
    end_search(c, key, id)
    publish_ride(c, key, 'RIDE_EXPIRED')
    return 'EXPIRED'
  end
  return r[1]
end

-- A driver on the market (AVAILABLE or OFFERED) leaves it OFFLINE,
-- declining an offer it holds.
local function go_offline(c, id, d)
  if d.state == 'OFFERED' then
    local ride = redis.call('HGET', driver_key(c, id), 'ride')
    if ride then
      local rkey = ride_key(c, ride)
      if redis.call('HGET', rkey, 'offer_driver') == id then
        end_offer(c, rkey, ride, 'DECLINED', 0, true)
        return
      end
    end
  end
  set_state(c, id, d, 'OFFLINE', nil)
end

-- A driver whose ride ended goes back on the market (OFFLINE if it fell silent).
local function release_driver(c, driver, ride_id)
  local d = read_driver(c, driver)
  if not d or d.state ~= 'ASSIGNED' then return end
  if redis.call('HGET', driver_key(c, driver), 'ride') ~= ride_id then return end
  set_state(c, driver, d, fresh(c, d) and 'AVAILABLE' or 'OFFLINE', nil)
end

-- Silent drivers leave the market: a bounded batch per call, oldest first.
-- The bucket index names the candidates; the exact time decides.
local function prune_silent(c, max)
  local candidates = redis.call('ZRANGEBYSCORE', c.seen, '-inf', '(' .. (c.now - c.ttl), 'LIMIT', 0, max)
  if #candidates == 0 then return 0 end
  local lasts = redis.call('HMGET', c.last, unpack(candidates))
  local n = 0
  for i, id in ipairs(candidates) do
    local d = parse(lasts[i])
    if not d then
      redis.call('ZREM', c.seen, id)
    elseif not fresh(c, d) then
      go_offline(c, id, d)
      n = n + 1
    end
  end
  return n
end

-- Up to `count` fresh AVAILABLE drivers within `max_km`, nearest first, as
-- {{id, km, d}, ...}. Searches outward, a small circle first, doubling up
-- to `max_km`, so the cost follows the drivers near the point.
local function nearest(c, lng, lat, max_km, count)
  prune_silent(c, 64)
  local radius = math.min(0.1, max_km)
  local rounds = 0
  while true do
    rounds = rounds + 1
    local found = redis.call('GEOSEARCH', c.available, 'FROMLONLAT', lng, lat,
      'BYRADIUS', radius, 'km', 'ASC', 'COUNT', count, 'WITHDIST')
    local fresh_ones, silent = {}, 0
    if #found > 0 then
      local ids = {}
      for i, hit in ipairs(found) do ids[i] = hit[1] end
      local lasts = redis.call('HMGET', c.last, unpack(ids))
      for i, hit in ipairs(found) do
        local d = parse(lasts[i])
        if d and fresh(c, d) then
          table.insert(fresh_ones, {hit[1], hit[2], d})
        elseif d then
          go_offline(c, hit[1], d)
          silent = silent + 1
        else
          redis.call('ZREM', c.available, hit[1])
          silent = silent + 1
        end
      end
    end
    if silent == 0 or rounds > 32 then
      if #fresh_ones >= count or radius >= max_km or rounds > 32 then return fresh_ones end
      radius = math.min(radius * 2, max_km)
    end
  end
end
