-- Drivers' position reports, one or many in a call.
--
-- The hot path of the service: every report runs `apply_report` once, so
-- it builds no table and no string it does not need (a driver's stored
-- `last` is split into locals, the new one is built once and both written
-- and replied), and the checks go cheapest first. Writes are gathered in
-- `writes` and issued once per call (one HSET, one GEOADD, one ZADD).

-- A driver's new last-seen bucket, written with the call's others.
local function see(writes, bucket_start, id)
  local z, n = writes.seen, writes.ns
  z[n + 1], z[n + 2] = bucket_start, id
  writes.ns = n + 2
end

-- One position report. `last` is the driver's stored `last` field (nil:
-- unknown here), `taken` when the position was taken (ms). Returns 'OK',
-- the driver's new `last` and its state; or a refusal: 'STALE' (older
-- than the stored position), 'IMPLAUSIBLE|km|seconds' (too fast),
-- 'ELSEWHERE' (unknown here and not to be created).
local function apply_report(c, id, last, lng, lat, taken, max_kmh, jitter, create, writes)
  local now, size = c.now, c.bucket
  -- The time as written: the caller's digits, or now's made once a call.
  local taken_s
  if taken >= now then
    taken = now
    taken_s = c.now_s
    if not taken_s then
      taken_s = tostring(now)
      c.now_s = taken_s
    end
  end
  local state, ms
  if last then
    local dlng, dlat, dms, dstate = string.match(last, '^([^|]+)|([^|]+)|([^|]+)|(%u+)$')
    ms = tonumber(dms)
    if ms then
      if taken < ms then return 'STALE' end
      if max_kmh > 0 then
        local hours = (taken - ms) / 3600000
        local km = distance_km(tonumber(dlng), tonumber(dlat), tonumber(lng), tonumber(lat))
        if km > max_kmh * hours + jitter then
          return 'IMPLAUSIBLE|' .. tostring(km) .. '|' .. tostring(hours * 3600)
        end
      end
      state = dstate
    end
  end
  if not state then
    if not create then return 'ELSEWHERE' end
    state = 'NEW'
  end
  local new_bucket = taken - taken % size
  if state == 'ASSIGNED' then
    -- Owned by its ride: only the position changes.
    if c.log then check_approach(c, id, {lng = lng, lat = lat, ms = taken, state = state}) end
  elseif state == 'OFFERED' then
    if new_bucket ~= ms - ms % size then see(writes, new_bucket, id) end
  else
    local a, n = writes.available, writes.na
    a[n + 1], a[n + 2], a[n + 3] = lng, lat, id
    writes.na = n + 3
    if state ~= 'AVAILABLE' then
      see(writes, new_bucket, id)
      if state == 'OFFLINE' then redis.call('ZREM', c.offline, id) end
      if c.log then
        log_driver(c, 'DRIVER_AVAILABLE', id, {lng = lng, lat = lat, ms = taken, state = 'AVAILABLE'})
      end
      state = 'AVAILABLE'
    elseif new_bucket ~= ms - ms % size then
      see(writes, new_bucket, id)
    end
    if c.anyone_searching ~= false then wake_near(c, lng, lat) end
  end
  local enc = lng .. '|' .. lat .. '|' .. (taken_s or tostring(taken)) .. '|' .. state
  local l, m = writes.last, writes.nl
  l[m + 1], l[m + 2] = id, enc
  writes.nl = m + 2
  if c.watched ~= false then
    publish_driver(c, id, {lng = lng, lat = lat, ms = taken, state = state})
  end
  return 'OK', enc, state
end

local function flush(c, writes)
  if writes.nl > 0 then redis.call('HSET', c.last, unpack(writes.last, 1, writes.nl)) end
  if writes.na > 0 then redis.call('GEOADD', c.available, unpack(writes.available, 1, writes.na)) end
  if writes.ns > 0 then redis.call('ZADD', c.seen, unpack(writes.seen, 1, writes.ns)) end
end

local function new_writes() return {last = {}, nl = 0, available = {}, na = 0, seen = {}, ns = 0} end

-- Whether anyone watches drivers (live maps) and whether any ride is
-- searching, for a call of reports: one EXISTS of both keys answers both
-- when neither or both are there (a redis.call costs more than the
-- check); otherwise `publish_driver` and `wake_near` ask on their own.
local function ask_watched_and_searching(c)
  local both = redis.call('EXISTS', c.watched_key, c.pickups)
  if both == 0 then
    c.watched, c.anyone_searching = false, false
  elseif both == 2 then
    c.watched, c.anyone_searching = true, true
  end
end

-- The drivers of a call's reports (every `step`-th argument from `first`)
-- and their stored `last` fields, read in one HMGET.
local function read_lasts(c, args, first, step)
  local ids, n = {}, 0
  for i = first, #args, step do
    n = n + 1
    ids[n] = args[i]
  end
  if n == 0 then return ids, n, {} end
  return ids, n, redis.call('HMGET', c.last, unpack(ids, 1, n))
end

-- A driver reports its position. own(1) driver id, own(2) lng, own(3) lat,
-- own(4) fastest plausible speed (km/h), own(5) GPS jitter (km), own(6)
-- '1' to create a driver unknown here. Replies the driver (OK), or STALE
-- (the stored one), IMPLAUSIBLE km seconds, ELSEWHERE. (Kept for instances
-- of the previous release; this one sends single reports to `update_group`.)
local function update(keys, args)
  local c = context(keys, args)
  local id = own(c, 1)
  local last = redis.call('HGET', c.last, id) or nil
  local writes = new_writes()
  local outcome, enc = apply_report(c, id, last, own(c, 2), own(c, 3), c.now,
    tonumber(own(c, 4)), tonumber(own(c, 5)), own(c, 6) == '1', writes)
  flush(c, writes)
  if enc then return driver_reply(c, 'OK', id, parse(enc)) end
  if outcome == 'STALE' then return driver_reply(c, 'STALE', id, parse(last)) end
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
  local ids, n, lasts = read_lasts(c, args, first, 4)
  if n > 0 then ask_watched_and_searching(c) end
  local out, known, writes = {}, {}, new_writes()
  for k = 1, n do
    local id, i = ids[k], first + (k - 1) * 4
    local outcome, enc = apply_report(c, id, known[id] or lasts[k] or nil, args[i + 1],
      args[i + 2], tonumber(args[i + 3]), max_kmh, jitter, create, writes)
    if enc then known[id] = enc end
    out[k] = outcome
  end
  flush(c, writes)
  return out
end

-- Single reports gathered by the group commit (`group.rs`), applied in
-- order as one by one. own(1) GPS jitter (km), then groups of five: driver
-- id, lng, lat, the fastest plausible speed (km/h) with '+' after it to
-- create a driver unknown here ("120+"), and when the position was taken
-- (ms; '' for now). Replies two entries per report: OK and the driver's
-- `last` ("lng|lat|ms|STATE", then "|ride" while it has one); STALE and
-- the stored one, the same way; IMPLAUSIBLE|km|seconds and ''; ELSEWHERE
-- and ''. Then '_now' and the server's time.
local function update_group(keys, args)
  local c = context(keys, args)
  local jitter = tonumber(own(c, 1))
  local first = NOW_ARGS + 2
  local ids, n, lasts = read_lasts(c, args, first, 5)
  if n > 0 then ask_watched_and_searching(c) end
  local out, known, writes, now = {}, {}, new_writes(), c.now
  for k = 1, n do
    local id, i = ids[k], first + (k - 1) * 5
    local speed = args[i + 3]
    local create = string.byte(speed, -1) == 43
    if create then speed = string.sub(speed, 1, -2) end
    local last = known[id] or lasts[k] or nil
    local outcome, enc, state = apply_report(c, id, last, args[i + 1], args[i + 2],
      tonumber(args[i + 4]) or now, tonumber(speed), jitter, create, writes)
    local shown = enc or (outcome == 'STALE' and last) or ''
    if enc then
      known[id] = enc
    elseif shown ~= '' then
      state = string.match(shown, '|(%u+)$')
    end
    if state == 'OFFERED' or state == 'ASSIGNED' then
      local ride = redis.call('HGET', driver_key(c, id), 'ride')
      if ride then shown = shown .. '|' .. ride end
    end
    out[2 * k - 1], out[2 * k] = outcome, shown
  end
  flush(c, writes)
  out[2 * n + 1], out[2 * n + 2] = '_now', tostring(now)
  return out
end
