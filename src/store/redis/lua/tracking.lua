#!lua name=tracking_v2
-- Every change of state in the Redis store, as one Redis 7 function each
-- (`FUNCTION LOAD` once per node, then `FCALL`): the helpers below are
-- defined once when the library loads, not on every call.
--
-- Calling convention (see `RedisStore::call` on the Rust side):
--   keys[1]  the area's anchor key (`T:rides:ids`), so a call runs on the
--            node that owns the area's slot; keys[2] the call's subject
--            (a driver or ride hash) when it has one.
--   args[1]  T, the area's key tag (`{tracking}` or `{tracking:scl}`):
--            every key is built from it, so all of one area's keys share
--            one Cluster slot and each call stays atomic.
--   args[2]  driver TTL (ms)          args[3] match radius (km)
--   args[4]  ride retention (ms)      args[5] driver retention (ms)
--   args[6]  PUBLISH or SPUBLISH      args[7] last-seen bucket (ms)
--   then the function's own arguments: own(1), own(2), ...
-- Every decision is taken on the server's clock (TIME), shared by every
-- instance whatever their clocks say.
--
-- A driver is one field of `T:drivers:last`: "lng|lat|ms|STATE", written
-- on every report; `T:driver:<id>` holds `ride` (while OFFERED or
-- ASSIGNED) and `ignored` (offers let time out in a row) and is touched
-- only when those change. `T:drivers:seen` holds AVAILABLE and OFFERED
-- drivers by the start of the bucket of their last report, written only
-- when a report falls in a new bucket; the exact time is in `last`.

local NOW_ARGS = 7

-- Key names, built from the tag on first use in a call (most calls use a
-- few of them: a report needs `last` and `available`, and little else).
local SUFFIX = {
  available = ':drivers:available', last = ':drivers:last', seen = ':drivers:seen',
  offline = ':drivers:offline', watched_key = ':drivers:watched',
  searching = ':rides:searching', pickups = ':rides:pickups', active = ':rides:active',
  ids = ':rides:ids', instances = ':instances', ch_events = ':events',
  ch_wake = ':wake', ch_drivers = ':drivers',
}
local LAZY = {
  __index = function(c, name)
    local suffix = SUFFIX[name]
    if not suffix then return nil end
    local key = c.tag .. suffix
    rawset(c, name, key)
    return key
  end,
}

local function context(keys, args)
  local t = redis.call('TIME')
  return setmetatable({
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000),
    args = args,
    subject = keys[2],
    tag = args[1],
    ttl = tonumber(args[2]),
    radius = tonumber(args[3]),
    ride_retention = tonumber(args[4]),
    driver_retention = tonumber(args[5]),
    pub = args[6],
    bucket = math.max(1, tonumber(args[7])),
    ended = {},
    -- Asked at most once per call: anyone watching drivers, anyone searching.
    watched = nil,
    anyone_searching = nil,
  }, LAZY)
end

-- The function's own i-th argument.
local function own(c, i) return c.args[NOW_ARGS + i] end

local function driver_key(c, id) return c.tag .. ':driver:' .. id end
local function ride_key(c, id) return c.tag .. ':ride:' .. id end
local function owned_key(c, instance) return c.tag .. ':owned:' .. instance end
local function declined_key(c, ride) return c.tag .. ':declined:' .. ride end
local function rider_rides(c, rider) return c.tag .. ':rider:' .. rider .. ':active' end

-- Great-circle distance in km, with the Earth radius Redis's GEO uses.
local function distance_km(lng1, lat1, lng2, lat2)
  local r = math.pi / 180
  local dlat, dlng = (lat2 - lat1) * r, (lng2 - lng1) * r
  local a = math.sin(dlat / 2) ^ 2 + math.cos(lat1 * r) * math.cos(lat2 * r) * math.sin(dlng / 2) ^ 2
  return 2 * 6372.797560856 * math.asin(math.min(1, math.sqrt(a)))
end

-- A driver's `last` field, read.
local function parse(v)
  if not v then return nil end
  local lng, lat, ms, state = string.match(v, '^([^|]+)|([^|]+)|([^|]+)|(%u+)$')
  if not lng then return nil end
  return {lng = lng, lat = lat, ms = tonumber(ms), state = state}
end

local function encode(d) return d.lng .. '|' .. d.lat .. '|' .. d.ms .. '|' .. d.state end

local function read_driver(c, id) return parse(redis.call('HGET', c.last, id)) end

local function bucket(c, ms) return ms - ms % c.bucket end

-- {tag, field1, value1, ..., '_now', now[, '_ended', reasons]}: what the
-- Rust side parses (the server's time rides along, so instances learn the
-- shared clock; so do the offers this call ended, so they are counted).
local function finish(c, flat)
  table.insert(flat, '_now')
  table.insert(flat, tostring(c.now))
  if #c.ended > 0 then
    table.insert(flat, '_ended')
    table.insert(flat, table.concat(c.ended, ','))
  end
  return flat
end

local function reply(c, tag, key)
  local flat = redis.call('HGETALL', key)
  table.insert(flat, 1, tag)
  return finish(c, flat)
end

-- A driver as fields: lng lat updated state [ride].
local function driver_fields(c, id, d)
  local flat = {'id', id, 'lng', d.lng, 'lat', d.lat, 'updated', tostring(d.ms), 'state', d.state}
  if d.state == 'OFFERED' or d.state == 'ASSIGNED' then
    local ride = redis.call('HGET', driver_key(c, id), 'ride')
    if ride then
      table.insert(flat, 'ride')
      table.insert(flat, ride)
    end
  end
  return flat
end

local function driver_reply(c, tag, id, d)
  local flat = driver_fields(c, id, d)
  table.insert(flat, 1, tag)
  return finish(c, flat)
end

local function publish_ride(c, key)
  local flat = redis.call('HGETALL', key)
  local ride = {}
  for i = 1, #flat, 2 do ride[flat[i]] = flat[i + 1] end
  redis.call(c.pub, c.ch_events, cjson.encode(ride))
end

-- Tells live maps about a driver's new state, while anyone watches
-- drivers (asked once per call: a batch of reports asks once).
local function publish_driver(c, id, d)
  if c.watched == nil then c.watched = redis.call('EXISTS', c.watched_key) == 1 end
  if not c.watched then return end
  local flat = driver_fields(c, id, d)
  local driver = {}
  for i = 1, #flat, 2 do driver[flat[i]] = flat[i + 1] end
  redis.call(c.pub, c.ch_drivers, cjson.encode(driver))
end

-- Tells every instance about an available driver, but only when a
-- searching ride waits within the match radius (most reports wake nobody).
local function wake_near(c, lng, lat)
  if c.anyone_searching == nil then c.anyone_searching = redis.call('EXISTS', c.pickups) == 1 end
  if not c.anyone_searching then return end
  local near = redis.call('GEOSEARCH', c.pickups, 'FROMLONLAT', lng, lat,
    'BYRADIUS', c.radius, 'km', 'COUNT', 1, 'ANY')
  if #near > 0 then redis.call(c.pub, c.ch_wake, lng .. ',' .. lat) end
end

-- Sets a driver's state (and the ride it holds or drives), keeping every
-- index exact, and says so.
local function set_state(c, id, d, state, ride)
  d.state = state
  redis.call('HSET', c.last, id, encode(d))
  local dkey = driver_key(c, id)
  if ride then redis.call('HSET', dkey, 'ride', ride) else redis.call('HDEL', dkey, 'ride') end
  if state == 'AVAILABLE' then
    redis.call('GEOADD', c.available, d.lng, d.lat, id)
  else
    redis.call('ZREM', c.available, id)
  end
  if state == 'AVAILABLE' or state == 'OFFERED' then
    redis.call('ZADD', c.seen, bucket(c, d.ms), id)
  else
    redis.call('ZREM', c.seen, id)
  end
  if state == 'OFFLINE' then
    redis.call('ZADD', c.offline, d.ms, id)
  else
    redis.call('ZREM', c.offline, id)
  end
  if state == 'AVAILABLE' then wake_near(c, d.lng, d.lat) end
  publish_driver(c, id, d)
end

-- A terminal status is the ride's end: it leaves the live maps, and its
-- hash expires after the ride retention (nothing sweeps ended rides).
local function set_status(c, key, status)
  redis.call('HSET', key, 'status', status)
  redis.call('HINCRBY', key, 'revision', 1)
  if status == 'ARRIVED' then redis.call('HSET', key, 'arrived', c.now) end
  if status == 'IN_PROGRESS' then redis.call('HSET', key, 'started', c.now) end
  if status == 'CANCELLED' or status == 'EXPIRED' or status == 'COMPLETED' then
    local r = redis.call('HMGET', key, 'id', 'rider')
    redis.call('HSET', key, 'ended', c.now)
    redis.call('ZREM', c.active, r[1])
    redis.call('SREM', rider_rides(c, r[2]), r[1])
    redis.call('PEXPIRE', key, c.ride_retention)
  end
end

-- The ride leaves the indexes of searching rides (and forgets who declined it).
local function end_search(c, key, id)
  redis.call('ZREM', c.searching, id)
  redis.call('ZREM', c.pickups, id)
  redis.call('DEL', declined_key(c, id))
  local owner = redis.call('HGET', key, 'owner')
  if owner then redis.call('SREM', owned_key(c, owner), id) end
end

-- Whether a driver's last report is within the TTL.
local function fresh(c, d) return c.now - d.ms <= c.ttl end

-- Ends the ride's outstanding offer for `reason` (ACCEPTED, DECLINED,
-- TIMED_OUT, WITHDRAWN), as one revision of the ride, published. The
-- driver: ASSIGNED when accepted; otherwise back on the market, or OFFLINE
-- when `offline` is set, when it fell silent, or when it let `ignore_limit`
-- offers in a row time out. A driver who declined or timed out is never
-- offered the ride again.
local function end_offer(c, key, id, reason, ignore_limit, offline)
  local o = redis.call('HMGET', key, 'offer_driver', 'offer_km', 'expires')
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
  redis.call('HDEL', key, 'offer_driver', 'offer_km', 'offer_at', 'offer_expires', 'offer_rev')
  redis.call('HSET', key, 'end_driver', driver, 'end_reason', reason, 'end_rev', rev)
  if reason == 'ACCEPTED' then
    redis.call('HSET', key, 'status', 'DRIVER_FOUND', 'driver', driver, 'distance', o[2], 'matched', c.now)
    end_search(c, key, id)
  end
  table.insert(c.ended, reason)
  publish_ride(c, key)
end

-- Expires a SEARCHING ride whose deadline has passed (withdrawing its
-- offer); returns its status.
local function expire_if_due(c, key, id)
  local r = redis.call('HMGET', key, 'status', 'expires')
  if r[1] == 'SEARCHING' and c.now >= tonumber(r[2]) then
    end_offer(c, key, id, 'WITHDRAWN', 0, false)
    set_status(c, key, 'EXPIRED')
    end_search(c, key, id)
    publish_ride(c, key)
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

-- One position report. `d` is the driver as stored (nil: unknown);
-- `taken` when the position was taken (ms). Returns the driver's new
-- record, or nil and a refusal: STALE (older than the stored position),
-- IMPLAUSIBLE|km|seconds (too fast), ELSEWHERE (unknown here and not to be
-- created). `writes` collects the batched writes (`last` fields and
-- `available` members), issued once for a whole batch.
-- A driver's new last-seen bucket, written with the batch's others.
local function see(writes, bucket_start, id)
  local z, n = writes.seen, writes.ns
  z[n + 1], z[n + 2] = bucket_start, id
  writes.ns = n + 2
end

local function apply_report(c, id, d, lng, lat, taken, max_kmh, jitter, create, writes)
  if taken > c.now then taken = c.now end
  if d then
    if taken < d.ms then return nil, 'STALE' end
    if max_kmh > 0 then
      local hours = (taken - d.ms) / 3600000
      local km = distance_km(tonumber(d.lng), tonumber(d.lat), tonumber(lng), tonumber(lat))
      if km > max_kmh * hours + jitter then
        return nil, 'IMPLAUSIBLE|' .. tostring(km) .. '|' .. tostring(hours * 3600)
      end
    end
  elseif not create then
    return nil, 'ELSEWHERE'
  end
  local state = d and d.state or 'NEW'
  local next = {lng = lng, lat = lat, ms = taken, state = state}
  local new_bucket = taken - taken % c.bucket
  if state == 'ASSIGNED' then
    -- Owned by its ride: only the position changes.
  elseif state == 'OFFERED' then
    if new_bucket ~= d.ms - d.ms % c.bucket then see(writes, new_bucket, id) end
  else
    next.state = 'AVAILABLE'
    local a, n = writes.available, writes.na
    a[n + 1], a[n + 2], a[n + 3] = lng, lat, id
    writes.na = n + 3
    if state ~= 'AVAILABLE' or new_bucket ~= d.ms - d.ms % c.bucket then
      see(writes, new_bucket, id)
    end
    if state == 'OFFLINE' then redis.call('ZREM', c.offline, id) end
    if c.anyone_searching ~= false then wake_near(c, lng, lat) end
  end
  local l, m = writes.last, writes.nl
  l[m + 1], l[m + 2] = id, encode(next)
  writes.nl = m + 2
  if c.watched ~= false then publish_driver(c, id, next) end
  return next, 'OK'
end

local function flush(c, writes)
  if writes.nl > 0 then redis.call('HSET', c.last, unpack(writes.last, 1, writes.nl)) end
  if writes.na > 0 then redis.call('GEOADD', c.available, unpack(writes.available, 1, writes.na)) end
  if writes.ns > 0 then redis.call('ZADD', c.seen, unpack(writes.seen, 1, writes.ns)) end
end

local function new_writes() return {last = {}, nl = 0, available = {}, na = 0, seen = {}, ns = 0} end

-- A driver reports its position. own(1) driver id, own(2) lng, own(3) lat,
-- own(4) fastest plausible speed (km/h), own(5) GPS jitter (km), own(6)
-- '1' to create a driver unknown here. Replies the driver (OK), or STALE
-- (the stored one), IMPLAUSIBLE km seconds, ELSEWHERE.
local function update(keys, args)
  local c = context(keys, args)
  local id = own(c, 1)
  local d = read_driver(c, id)
  local writes = new_writes()
  local next, outcome = apply_report(c, id, d, own(c, 2), own(c, 3), c.now,
    tonumber(own(c, 4)), tonumber(own(c, 5)), own(c, 6) == '1', writes)
  flush(c, writes)
  if next then return driver_reply(c, 'OK', id, next) end
  if outcome == 'STALE' then return driver_reply(c, 'STALE', id, d) end
  if outcome == 'ELSEWHERE' then return {'ELSEWHERE'} end
  local _, km, secs = string.match(outcome, '^(%u+)|([^|]+)|([^|]+)$')
  return {'IMPLAUSIBLE', 'km', km, 'seconds', secs}
end

-- Many reports in one call. own(1) fastest plausible speed (km/h), own(2)
-- GPS jitter (km), own(3) '1' to create drivers unknown here, then groups
-- of four: driver id, lng, lat, when the position was taken (ms). Reads
-- every driver in one HMGET and writes them in one HSET and one GEOADD.
-- Returns one tag per report: OK, STALE, ELSEWHERE or IMPLAUSIBLE|km|seconds.
local function update_batch(keys, args)
  local c = context(keys, args)
  local max_kmh, jitter, create = tonumber(own(c, 1)), tonumber(own(c, 2)), own(c, 3) == '1'
  local first = NOW_ARGS + 4
  local ids = {}
  for i = first, #args, 4 do table.insert(ids, args[i]) end
  local out = {}
  if #ids == 0 then return out end
  local lasts = redis.call('HMGET', c.last, unpack(ids))
  local known = {}
  local writes = new_writes()
  for n, id in ipairs(ids) do
    local i = first + (n - 1) * 4
    local d = known[id]
    if d == nil then d = parse(lasts[n]) or false end
    local next, outcome = apply_report(c, id, d or nil, args[i + 1], args[i + 2],
      tonumber(args[i + 3]), max_kmh, jitter, create, writes)
    if next then known[id] = next end
    out[n] = outcome
  end
  flush(c, writes)
  return out
end

-- Drivers by id, as fields (an unknown one: an empty list). own(1..n) ids.
local function drivers(keys, args)
  local c = context(keys, args)
  local ids = {}
  for i = NOW_ARGS + 1, #args do table.insert(ids, args[i]) end
  local out = {}
  if #ids == 0 then return out end
  local lasts = redis.call('HMGET', c.last, unpack(ids))
  for n, id in ipairs(ids) do
    local d = parse(lasts[n])
    out[n] = d and driver_fields(c, id, d) or {}
  end
  return out
end

-- A driver leaves the market. own(1) driver id.
-- AVAILABLE or OFFERED (declining its offer): OFFLINE; ASSIGNED: CONFLICT.
local function offline(keys, args)
  local c = context(keys, args)
  local id = own(c, 1)
  local d = read_driver(c, id)
  if not d then return {'NOT_FOUND'} end
  if d.state == 'ASSIGNED' then return driver_reply(c, 'CONFLICT', id, d) end
  if d.state == 'AVAILABLE' or d.state == 'OFFERED' then
    go_offline(c, id, d)
  else
    publish_driver(c, id, d)
  end
  return driver_reply(c, 'OK', id, read_driver(c, id) or d)
end

-- A driver moving to another area leaves this one: own(1) driver id.
-- UNKNOWN; BUSY (OFFERED or ASSIGNED: it stays with its ride's area); or
-- GONE, with what was stored, now removed from every index here.
local function release(keys, args)
  local c = context(keys, args)
  local id = own(c, 1)
  local d = read_driver(c, id)
  if not d then return {'UNKNOWN'} end
  if d.state == 'OFFERED' or d.state == 'ASSIGNED' then return driver_reply(c, 'BUSY', id, d) end
  local flat = driver_reply(c, 'GONE', id, d)
  redis.call('ZREM', c.available, id)
  redis.call('ZREM', c.seen, id)
  redis.call('ZREM', c.offline, id)
  redis.call('HDEL', c.last, id)
  redis.call('DEL', driver_key(c, id))
  return flat
end

-- AVAILABLE fresh drivers near a point. own(1) lng, own(2) lat,
-- own(3) radius (km), own(4) count.
-- Returns {id, km, lng, lat, updated, ...}, nearest first.
local function nearby(keys, args)
  local c = context(keys, args)
  local out = {}
  for _, hit in ipairs(nearest(c, own(c, 1), own(c, 2), tonumber(own(c, 3)), tonumber(own(c, 4)))) do
    local d = hit[3]
    table.insert(out, hit[1])
    table.insert(out, hit[2])
    table.insert(out, d.lng)
    table.insert(out, d.lat)
    table.insert(out, tostring(d.ms))
  end
  return out
end

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
  publish_ride(c, key)
  return reply(c, 'OK', key)
end

-- One search for a ride, atomically. own(1) ride id, own(2) radius (km),
-- own(3) the searching instance, own(4) how long an offer waits for its
-- answer (ms; 0: no offers, assign at once), own(5) the offers a driver may
-- let time out in a row before it goes OFFLINE (0: any number).
-- Past its deadline the ride EXPIRES (withdrawing any offer): ENDED. A ride
-- another instance owns now is left to it: ELSEWHERE. An offer that still
-- waits: OFFERED, as it is. One past its deadline times out (that driver
-- is never offered the ride again); then the nearest fresh AVAILABLE
-- driver within the radius not offered it before is offered it (OFFERED)
-- or, without offers, assigned (MATCHED); none: NO_DRIVER.
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
  local declined = declined_key(c, id)
  local pick = nil
  for _, hit in ipairs(nearest(c, at[1], at[2], radius, redis.call('SCARD', declined) + 1)) do
    if redis.call('SISMEMBER', declined, hit[1]) == 0 then
      pick = hit
      break
    end
  end
  if not pick then return reply(c, 'NO_DRIVER', key) end
  local driver, km, d = pick[1], pick[2], pick[3]
  if offer_ms > 0 then
    set_state(c, driver, d, 'OFFERED', id)
    local rev = redis.call('HINCRBY', key, 'revision', 1)
    redis.call('HSET', key, 'offer_driver', driver, 'offer_km', km, 'offer_at', c.now,
      'offer_expires', c.now + offer_ms, 'offer_rev', rev)
    publish_ride(c, key)
    return reply(c, 'OFFERED', key)
  end
  set_state(c, driver, d, 'ASSIGNED', id)
  redis.call('HSET', key, 'driver', driver, 'distance', km, 'matched', c.now)
  set_status(c, key, 'DRIVER_FOUND')
  end_search(c, key, id)
  publish_ride(c, key)
  return reply(c, 'MATCHED', key)
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
  if to == 'CANCELLED' or to == 'COMPLETED' then
    local driver = redis.call('HGET', key, 'driver')
    if driver then release_driver(c, driver, id) end
  end
  publish_ride(c, key)
  return reply(c, 'OK', key)
end

-- Expires a SEARCHING ride once its deadline has passed. own(1) ride id.
local function expire_ride(keys, args)
  local c = context(keys, args)
  if redis.call('EXISTS', c.subject) == 0 then return {'NOT_FOUND'} end
  expire_if_due(c, c.subject, own(c, 1))
  return reply(c, 'OK', c.subject)
end

-- Renews this instance's lease, takes over the searching rides of
-- instances whose lease has run out, and checks this instance's own count.
-- own(1) this instance, own(2) the lease (ms), own(3) how many search
-- tasks this instance runs for this area.
-- Returns {epoch ('' when the area has none), now, n, n adopted ids...,
-- then, when the area counts a different number of rides owned here than
-- the tasks, every ride owned here}.
local function adopt(keys, args)
  local c = context(keys, args)
  local me, lease, running = own(c, 1), tonumber(own(c, 2)), tonumber(own(c, 3))
  redis.call('ZADD', c.instances, c.now + lease, me)
  local adopted = {}
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', c.instances, '-inf', '(' .. c.now, 'LIMIT', 0, 16)) do
    local owned = owned_key(c, dead)
    for _, id in ipairs(redis.call('SMEMBERS', owned)) do
      local key = ride_key(c, id)
      if redis.call('HGET', key, 'status') == 'SEARCHING' then
        redis.call('HSET', key, 'owner', me)
        redis.call('SADD', owned_key(c, me), id)
        table.insert(adopted, id)
      end
    end
    redis.call('DEL', owned)
    redis.call('ZREM', c.instances, dead)
  end
  local out = {redis.call('HGET', c.ids, 'epoch') or '', tostring(c.now), tostring(#adopted)}
  for _, id in ipairs(adopted) do table.insert(out, id) end
  local mine = owned_key(c, me)
  if redis.call('SCARD', mine) ~= running + #adopted then
    for _, id in ipairs(redis.call('SMEMBERS', mine)) do table.insert(out, id) end
  end
  return out
end

-- Housekeeping, bounded by own(1) of each kind, from the indexes' fronts:
-- AVAILABLE and OFFERED drivers silent past the TTL go OFFLINE (published
-- once each; an offer held is declined); OFFLINE drivers silent past the
-- driver retention are removed. (Ended rides need nothing: their hashes
-- expire.) Returns {went offline, the offers this ended, removed ids...}.
local function sweep(keys, args)
  local c = context(keys, args)
  local max = tonumber(own(c, 1))
  local offline_now = prune_silent(c, max)
  local out = {tostring(offline_now), ''}
  local cutoff = '(' .. (c.now - c.driver_retention)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', c.offline, '-inf', cutoff, 'LIMIT', 0, max)) do
    local d = read_driver(c, id)
    if not d or d.state == 'OFFLINE' then
      redis.call('HDEL', c.last, id)
      redis.call('DEL', driver_key(c, id))
      table.insert(out, id)
    end
    redis.call('ZREM', c.offline, id)
  end
  out[2] = table.concat(c.ended, ',')
  return out
end

-- What an area holds: {AVAILABLE drivers (fresh or not yet swept),
-- SEARCHING rides}.
local function counts(keys, args)
  local c = context(keys, args)
  return {redis.call('ZCARD', c.available), redis.call('ZCARD', c.searching)}
end

redis.register_function('tracking_v2_update', update)
redis.register_function('tracking_v2_update_batch', update_batch)
redis.register_function('tracking_v2_drivers', drivers)
redis.register_function('tracking_v2_offline', offline)
redis.register_function('tracking_v2_release', release)
redis.register_function('tracking_v2_nearby', nearby)
redis.register_function('tracking_v2_create_ride', create_ride)
redis.register_function('tracking_v2_try_match', try_match)
redis.register_function('tracking_v2_answer_offer', answer_offer)
redis.register_function('tracking_v2_advance', advance)
redis.register_function('tracking_v2_expire_ride', expire_ride)
redis.register_function('tracking_v2_adopt', adopt)
redis.register_function('tracking_v2_sweep', sweep)
redis.register_function('tracking_v2_counts', counts)
