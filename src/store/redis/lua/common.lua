-- The library's shared part: the calling convention, key names, replies,
-- events and the state changes every function makes.
--
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
--   args[8]  '1' to log changes (the area's event stream), '0' not
--   args[9]  approach distance (m): an assigned driver's first report
--            this close to its pickup is DRIVER_APPROACHING
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

local NOW_ARGS = 9

-- Key names, built from the tag on first use in a call (most calls use a
-- few of them: a report needs `last` and `available`, and little else).
local SUFFIX = {
  available = ':drivers:available', last = ':drivers:last', seen = ':drivers:seen',
  offline = ':drivers:offline', watched_key = ':drivers:watched',
  searching = ':rides:searching', pickups = ':rides:pickups', active = ':rides:active',
  ids = ':rides:ids', instances = ':instances', ch_events = ':events',
  ch_wake = ':wake', ch_drivers = ':drivers',
  log_key = ':log', log_dead = ':log:dead', log_acked = ':log:acked',
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
    log = args[8] == '1',
    approach_m = tonumber(args[9]) or 300,
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

-- A hash as a JSON object (what the channels carry and the log keeps).
local function hash_json(key)
  local flat = redis.call('HGETALL', key)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return cjson.encode(map)
end

-- The area's epoch: the ride counter's (lost with the data, so a store
-- that lost its data starts a new one); made here when the area has none
-- yet, 8 characters of [a-z0-9] from the server's clock.
local function epoch(c)
  local e = redis.call('HGET', c.ids, 'epoch')
  if e then return e end
  local digits, n, out = '0123456789abcdefghijklmnopqrstuvwxyz', c.now, ''
  for _ = 1, 8 do
    local d = n % 36
    out = string.sub(digits, d + 1, d + 1) .. out
    n = math.floor(n / 36)
  end
  redis.call('HSET', c.ids, 'epoch', out)
  return out
end

-- Appends an event to the area's log (`T:log`), in this very call: the
-- change and its event exist together or not at all. Entry fields: v
-- (format), type, at (ms), then `what` (ride or driver) as JSON, and the
-- reason an offer ended.
local function log_event(c, kind, what, json, reason, what2, json2)
  if not c.logged_epoch then
    epoch(c)
    c.logged_epoch = true
  end
  local entry = {'v', '1', 'type', kind, 'at', tostring(c.now), what, json}
  if reason then
    table.insert(entry, 'reason')
    table.insert(entry, reason)
  end
  if what2 then
    table.insert(entry, what2)
    table.insert(entry, json2)
  end
  redis.call('XADD', c.log_key, '*', unpack(entry))
end

local function fields_json(flat)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return cjson.encode(map)
end

local function log_driver(c, kind, id, d)
  log_event(c, kind, 'driver', fields_json(driver_fields(c, id, d)))
end

-- An assigned driver's pickup, kept with the driver (`approach`:
-- "lng,lat,ride") until its first report near it, so the report path
-- reads no ride.
local function watch_approach(c, driver, key, id)
  local at = redis.call('HMGET', key, 'lng', 'lat')
  redis.call('HSET', driver_key(c, driver), 'approach', at[1] .. ',' .. at[2] .. ',' .. id)
end

-- The ride leaves DRIVER_FOUND: its driver is no longer approaching it.
local function forget_approach(c, key)
  local r = redis.call('HMGET', key, 'driver', 'id')
  if not r[1] then return end
  local dkey = driver_key(c, r[1])
  local a = redis.call('HGET', dkey, 'approach')
  if a and string.sub(a, -(#r[2] + 1)) == ',' .. r[2] then redis.call('HDEL', dkey, 'approach') end
end

-- An assigned driver reported (`next`): its first report within the
-- approach distance of its pickup is DRIVER_APPROACHING, with the ride.
local function check_approach(c, id, next)
  local dkey = driver_key(c, id)
  local a = redis.call('HGET', dkey, 'approach')
  if not a then return end
  local plng, plat, ride = string.match(a, '^([^,]+),([^,]+),(.+)$')
  plng, plat = tonumber(plng), tonumber(plat)
  -- Not what `watch_approach` writes (not a position, or not the ride the
  -- driver has): forgotten, never an error nor an approach from afar.
  if not (plng and plat and math.abs(plng) <= 180 and math.abs(plat) <= 90)
      or redis.call('HGET', dkey, 'ride') ~= ride then
    redis.call('HDEL', dkey, 'approach')
    return
  end
  local km = distance_km(tonumber(next.lng), tonumber(next.lat), plng, plat)
  if not (km * 1000 <= c.approach_m) then return end
  redis.call('HDEL', dkey, 'approach')
  local driver = cjson.encode({id = id, lng = next.lng, lat = next.lat,
    updated = tostring(next.ms), state = 'ASSIGNED', ride = ride})
  -- The ride as it is, when its hash is there (the driver names it anyway).
  local rkey = ride_key(c, ride)
  if redis.call('EXISTS', rkey) == 1 then
    log_event(c, 'DRIVER_APPROACHING', 'driver', driver, nil, 'ride', hash_json(rkey))
  else
    log_event(c, 'DRIVER_APPROACHING', 'driver', driver)
  end
end

-- Tells every instance about the ride's change, and logs it as `kind`
-- (and `then_kind`, when the change was two: an accepted offer is the
-- offer ended, then the driver found).
local function publish_ride(c, key, kind, then_kind)
  local json = hash_json(key)
  redis.call(c.pub, c.ch_events, json)
  if c.log then
    local reason = nil
    if kind == 'OFFER_ENDED' then reason = redis.call('HGET', key, 'end_reason') end
    log_event(c, kind, 'ride', json, reason)
    if then_kind then log_event(c, then_kind, 'ride', json) end
  end
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
  local was = d.state
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
  if c.log then
    if state ~= 'ASSIGNED' then redis.call('HDEL', dkey, 'approach') end
    if was ~= state and (state == 'AVAILABLE' or state == 'OFFLINE') then
      log_driver(c, 'DRIVER_' .. state, id, d)
    end
  end
end

-- A terminal status is the ride's end: it leaves the live maps, and its
-- hash expires after the ride retention (nothing sweeps ended rides).
local function set_status(c, key, status)
  if c.log and status ~= 'DRIVER_FOUND' then forget_approach(c, key) end
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
