-- Shared by every script (prepended when the script is built).
--
-- Calling convention, the same for all scripts (see `RedisStore::invocation`
-- in mod.rs, its Rust side):
--   KEYS[1] available GEO    KEYS[2] seen ZSET      KEYS[3] searching ZSET
--   KEYS[4] pickups GEO      KEYS[5] ride seq       KEYS[6] instances ZSET
--   KEYS[7] active rides GEO (SEARCHING and DRIVER_FOUND, by pickup)
--   KEYS[8] set while some instance has live-map or driverLocation watchers
--   KEYS[9] the script's subject (a driver or ride hash; "" when none)
--   KEYS[10] OFFLINE drivers ZSET (by last report, for their retention)
--   ARGV[1] driver hash prefix  ARGV[2] ride hash prefix  ARGV[3] owned-set prefix
--   ARGV[4] ride events channel ARGV[5] wake channel      ARGV[6] driver events channel
--   ARGV[7] (unused)            ARGV[8] driver TTL (ms)   ARGV[9] match radius (km)
--   ARGV[10] ride retention (ms)  ARGV[11] driver retention (ms)
--   ARGV[12] rider set prefix   ARGV[13] idempotency key prefix
--   ARGV[14] declined-drivers set prefix
--   then the script's own arguments: arg(1), arg(2), ...
-- The time every decision is taken on is the server's own (TIME), never the
-- calling instance's: deadlines, expiry, leases and the driver TTL are
-- shared by every instance, whatever their clocks say.
-- Keys built here from a prefix and an id share the prefix's hash tag, so
-- every key a script touches lives in the same cluster slot.
local K_AVAILABLE, K_SEEN, K_SEARCHING = KEYS[1], KEYS[2], KEYS[3]
local K_PICKUPS, K_SEQ, K_INSTANCES = KEYS[4], KEYS[5], KEYS[6]
local K_ACTIVE, K_WATCHED, SUBJECT = KEYS[7], KEYS[8], KEYS[9]
local K_OFFLINE = KEYS[10]
local DRIVER_PREFIX, RIDE_PREFIX, OWNED_PREFIX = ARGV[1], ARGV[2], ARGV[3]
local CH_EVENTS, CH_WAKE, CH_DRIVERS = ARGV[4], ARGV[5], ARGV[6]
local TTL, MATCH_RADIUS = tonumber(ARGV[8]), tonumber(ARGV[9])
local RIDE_RETENTION, DRIVER_RETENTION = tonumber(ARGV[10]), tonumber(ARGV[11])
local RIDER_PREFIX, IDEM_PREFIX, DECLINED_PREFIX = ARGV[12], ARGV[13], ARGV[14]
local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ARG0 = 14
-- The script's own i-th argument.
local function arg(i) return ARGV[ARG0 + i] end

-- Great-circle distance in km, with the Earth radius Redis's GEO uses.
local function distance_km(lng1, lat1, lng2, lat2)
  local r = math.pi / 180
  local dlat, dlng = (lat2 - lat1) * r, (lng2 - lng1) * r
  local a = math.sin(dlat / 2) ^ 2 + math.cos(lat1 * r) * math.cos(lat2 * r) * math.sin(dlng / 2) ^ 2
  return 2 * 6372.797560856 * math.asin(math.min(1, math.sqrt(a)))
end

-- How each offer this call ended ended, for the metrics.
local ENDED = {}

-- {tag, field1, value1, ..., '_now', now[, '_ended', reasons]}: what the
-- Rust side parses (the server's time rides along, so instances learn the
-- shared clock; so do the offers this call ended, so they are counted).
local function reply(tag, key)
  local flat = redis.call('HGETALL', key)
  table.insert(flat, 1, tag)
  table.insert(flat, '_now')
  table.insert(flat, tostring(NOW))
  if #ENDED > 0 then
    table.insert(flat, '_ended')
    table.insert(flat, table.concat(ENDED, ','))
  end
  return flat
end

-- The set of a rider's rides that have not ended.
local function rider_rides(rider) return RIDER_PREFIX .. rider .. ':active' end

local function publish_ride(key)
  local flat = redis.call('HGETALL', key)
  local ride = {}
  for i = 1, #flat, 2 do ride[flat[i]] = flat[i + 1] end
  redis.call('PUBLISH', CH_EVENTS, cjson.encode(ride))
end

-- A terminal status is the ride's end: it leaves the live maps, and its
-- hash expires after the ride retention (nothing sweeps ended rides).
local function set_status(key, status)
  redis.call('HSET', key, 'status', status)
  redis.call('HINCRBY', key, 'revision', 1)
  if status == 'ARRIVED' then redis.call('HSET', key, 'arrived', NOW) end
  if status == 'IN_PROGRESS' then redis.call('HSET', key, 'started', NOW) end
  if status == 'CANCELLED' or status == 'EXPIRED' or status == 'COMPLETED' then
    local r = redis.call('HMGET', key, 'id', 'rider')
    redis.call('HSET', key, 'ended', NOW)
    redis.call('ZREM', K_ACTIVE, r[1])
    redis.call('SREM', rider_rides(r[2]), r[1])
    redis.call('PEXPIRE', key, RIDE_RETENTION)
  end
end

-- Tells live maps about a driver's new state, while anyone watches
-- drivers (most position reports then cost nothing extra).
local watched = nil
local function publish_driver(id)
  -- Asked once per script call: a batch of reports asks once, not per report.
  if watched == nil then watched = redis.call('EXISTS', K_WATCHED) == 1 end
  if not watched then return end
  local flat = redis.call('HGETALL', DRIVER_PREFIX .. id)
  local driver = {id = id}
  for i = 1, #flat, 2 do driver[flat[i]] = flat[i + 1] end
  redis.call('PUBLISH', CH_DRIVERS, cjson.encode(driver))
end

-- The ride leaves the indexes of searching rides (and forgets who declined it).
local function end_search(key, id)
  redis.call('ZREM', K_SEARCHING, id)
  redis.call('ZREM', K_PICKUPS, id)
  redis.call('DEL', DECLINED_PREFIX .. id)
  local owner = redis.call('HGET', key, 'owner')
  if owner then redis.call('SREM', OWNED_PREFIX .. owner, id) end
end

-- Tells every instance about an available driver, but only when a
-- searching ride waits within the match radius (most reports wake nobody).
local anyone_searching = nil
local function wake_near(lng, lat)
  -- With no ride searching anywhere there is nobody to wake (asked once
  -- per script call; scripts that end a search do so before waking).
  if anyone_searching == nil then anyone_searching = redis.call('EXISTS', K_PICKUPS) == 1 end
  if not anyone_searching then return end
  local near = redis.call('GEOSEARCH', K_PICKUPS, 'FROMLONLAT', lng, lat,
    'BYRADIUS', MATCH_RADIUS, 'km', 'COUNT', 1, 'ANY')
  if #near > 0 then redis.call('PUBLISH', CH_WAKE, lng .. ',' .. lat) end
end

local function off_market(id)
  redis.call('ZREM', K_AVAILABLE, id)
  redis.call('ZREM', K_SEEN, id)
end

-- Ends the ride's outstanding offer for `reason` (ACCEPTED, DECLINED,
-- TIMED_OUT, WITHDRAWN), as one revision of the ride, published. The
-- driver: ASSIGNED when accepted; otherwise back on the market, or OFFLINE
-- when `offline` is set, when it fell silent, or when it let `ignore_limit`
-- offers in a row time out. A driver who declined or timed out is never
-- offered the ride again.
local function end_offer(key, id, reason, ignore_limit, offline)
  local o = redis.call('HMGET', key, 'offer_driver', 'offer_km', 'expires')
  local driver = o[1]
  if not driver then return end
  local dkey = DRIVER_PREFIX .. driver
  local d = redis.call('HMGET', dkey, 'state', 'ride', 'lng', 'lat', 'updated')
  if d[1] == 'OFFERED' and d[2] == id then
    if reason == 'ACCEPTED' then
      redis.call('HSET', dkey, 'state', 'ASSIGNED', 'ignored', 0)
      redis.call('ZREM', K_SEEN, driver)
    else
      if reason == 'DECLINED' then redis.call('HSET', dkey, 'ignored', 0) end
      if reason == 'TIMED_OUT' then
        local n = redis.call('HINCRBY', dkey, 'ignored', 1)
        if ignore_limit > 0 and n >= ignore_limit then offline = true end
      end
      redis.call('HDEL', dkey, 'ride')
      if offline or NOW - tonumber(d[5]) > TTL then
        redis.call('HSET', dkey, 'state', 'OFFLINE')
        redis.call('ZREM', K_SEEN, driver)
        redis.call('ZADD', K_OFFLINE, d[5], driver)
      else
        redis.call('HSET', dkey, 'state', 'AVAILABLE')
        redis.call('GEOADD', K_AVAILABLE, d[3], d[4], driver)
        wake_near(d[3], d[4])
      end
    end
    publish_driver(driver)
  end
  if reason == 'DECLINED' or reason == 'TIMED_OUT' then
    local declined = DECLINED_PREFIX .. id
    redis.call('SADD', declined, driver)
    redis.call('PEXPIREAT', declined, tonumber(o[3]) + 60000)
  end
  local rev = redis.call('HINCRBY', key, 'revision', 1)
  redis.call('HDEL', key, 'offer_driver', 'offer_km', 'offer_at', 'offer_expires', 'offer_rev')
  redis.call('HSET', key, 'end_driver', driver, 'end_reason', reason, 'end_rev', rev)
  if reason == 'ACCEPTED' then
    redis.call('HSET', key, 'status', 'DRIVER_FOUND', 'driver', driver, 'distance', o[2])
    end_search(key, id)
  end
  table.insert(ENDED, reason)
  publish_ride(key)
end

-- Expires a SEARCHING ride whose deadline has passed (withdrawing its
-- offer); returns its status.
local function expire_if_due(key, id)
  local r = redis.call('HMGET', key, 'status', 'expires')
  if r[1] == 'SEARCHING' and NOW >= tonumber(r[2]) then
    end_offer(key, id, 'WITHDRAWN', 0, false)
    set_status(key, 'EXPIRED')
    end_search(key, id)
    publish_ride(key)
    return 'EXPIRED'
  end
  return r[1]
end

-- A driver on the market (AVAILABLE or OFFERED) leaves it OFFLINE,
-- declining an offer it holds: kept (by last report) until its retention
-- runs out, and live maps are told.
local function go_offline(id)
  local key = DRIVER_PREFIX .. id
  local d = redis.call('HMGET', key, 'state', 'ride')
  if d[1] == 'OFFERED' and d[2] then
    local rkey = RIDE_PREFIX .. d[2]
    if redis.call('HGET', rkey, 'offer_driver') == id then
      end_offer(rkey, d[2], 'DECLINED', 0, true)
      return
    end
  end
  off_market(id)
  redis.call('HDEL', key, 'ride')
  redis.call('HSET', key, 'state', 'OFFLINE')
  redis.call('ZADD', K_OFFLINE, redis.call('HGET', key, 'updated'), id)
  publish_driver(id)
end

-- A driver whose ride ended goes back on the market (OFFLINE if it fell silent).
local function release_driver(driver, ride_id)
  local dkey = DRIVER_PREFIX .. driver
  local d = redis.call('HMGET', dkey, 'state', 'ride', 'lng', 'lat', 'updated')
  if d[1] ~= 'ASSIGNED' or d[2] ~= ride_id then return end
  redis.call('HDEL', dkey, 'ride')
  if NOW - tonumber(d[5]) > TTL then
    redis.call('HSET', dkey, 'state', 'OFFLINE')
    redis.call('ZADD', K_OFFLINE, d[5], driver)
    publish_driver(driver)
    return
  end
  redis.call('HSET', dkey, 'state', 'AVAILABLE')
  redis.call('GEOADD', K_AVAILABLE, d[3], d[4], driver)
  redis.call('ZADD', K_SEEN, d[5], driver)
  wake_near(d[3], d[4])
  publish_driver(driver)
end

-- Silent drivers leave the market: a bounded batch per call, oldest first,
-- so pruning costs little however many fell silent at once.
local function prune_silent(max)
  local silent = redis.call('ZRANGEBYSCORE', K_SEEN, '-inf', '(' .. (NOW - TTL), 'LIMIT', 0, max)
  for _, id in ipairs(silent) do go_offline(id) end
  return #silent
end

-- Up to `count` fresh AVAILABLE drivers within `max_km`, nearest first, as
-- {{id, km}, ...}. Searches outward, a small circle first, doubling up to
-- `max_km`, so the cost follows the drivers near the point, not all of them.
-- (0.1 km first: in a dense city a wider first circle scans dozens of drivers
-- to find one; in a sparse one each empty circle costs little.)
local function nearest(lng, lat, max_km, count)
  prune_silent(64)
  local radius = math.min(0.1, max_km)
  local rounds = 0
  while true do
    rounds = rounds + 1
    local found = redis.call('GEOSEARCH', K_AVAILABLE, 'FROMLONLAT', lng, lat,
      'BYRADIUS', radius, 'km', 'ASC', 'COUNT', count, 'WITHDIST')
    local fresh, silent = {}, 0
    for _, hit in ipairs(found) do
      local seen = redis.call('ZSCORE', K_SEEN, hit[1])
      if seen and NOW - tonumber(seen) <= TTL then
        table.insert(fresh, hit)
      else
        go_offline(hit[1])
        silent = silent + 1
      end
    end
    -- A silent driver took a place: search the same circle again.
    if silent == 0 or rounds > 32 then
      if #fresh >= count or radius >= max_km or rounds > 32 then return fresh end
      radius = math.min(radius * 2, max_km)
    end
  end
end

-- One position report, as both the single and the batch update apply it:
-- `taken` is when the position was taken (ms). Returns 'OK', 'STALE' (older
-- than the stored position: ignored) or 'IMPLAUSIBLE', km, seconds (a jump
-- faster than `max_kmh` plus `jitter` km: refused). Only 'OK' changes anything.
local function apply_report(id, lng, lat, taken, max_kmh, jitter)
  -- Stamped ahead of the server's clock: stored at its now, so it can never
  -- hide the reports that follow.
  if taken > NOW then taken = NOW end
  local key = DRIVER_PREFIX .. id
  local last = redis.call('HMGET', key, 'state', 'lng', 'lat', 'updated')
  local state = last[1]
  if state then
    local previous = tonumber(last[4])
    if taken < previous then return {'STALE'} end
    local hours = (taken - previous) / 3600000
    local km = distance_km(tonumber(last[2]), tonumber(last[3]), tonumber(lng), tonumber(lat))
    if max_kmh > 0 and km > max_kmh * hours + jitter then
      return {'IMPLAUSIBLE', tostring(km), tostring(hours * 3600)}
    end
  end
  if state == 'ASSIGNED' then
    redis.call('HSET', key, 'lng', lng, 'lat', lat, 'updated', taken)
  elseif state == 'OFFERED' then
    redis.call('HSET', key, 'lng', lng, 'lat', lat, 'updated', taken)
    redis.call('ZADD', K_SEEN, taken, id)
  else
    if state == 'OFFLINE' then redis.call('ZREM', K_OFFLINE, id) end
    redis.call('HSET', key, 'lng', lng, 'lat', lat, 'updated', taken, 'state', 'AVAILABLE')
    redis.call('GEOADD', K_AVAILABLE, lng, lat, id)
    redis.call('ZADD', K_SEEN, taken, id)
    wake_near(lng, lat)
  end
  publish_driver(id)
  return {'OK'}
end
