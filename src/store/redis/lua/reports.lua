-- Drivers' position reports, one or many in a call.

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
    if c.log then check_approach(c, id, next) end
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
    if c.log and state ~= 'AVAILABLE' then log_driver(c, 'DRIVER_AVAILABLE', id, next) end
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

-- Single reports gathered by the group commit (`group.rs`), applied in
-- order as `update` would one by one. own(1) GPS jitter (km), then groups
-- of five: driver id, lng, lat, the fastest plausible speed (km/h) with
-- '+' after it to create a driver unknown here ("120+"), and when the
-- position was taken (ms; '' for now). Replies six entries per report:
-- OK or STALE, lng, lat, ms, state, ride (or ''); IMPLAUSIBLE, km,
-- seconds and three ''; ELSEWHERE and five ''. Then '_now', server time.
local function update_group(keys, args)
  local c = context(keys, args)
  local jitter = tonumber(own(c, 1))
  local first, ids, n = NOW_ARGS + 2, {}, 0
  for i = first, #args, 5 do
    n = n + 1
    ids[n] = args[i]
  end
  local out, o = {}, 0
  if n > 0 then
    local lasts = redis.call('HMGET', c.last, unpack(ids, 1, n))
    local known, writes, now = {}, new_writes(), c.now
    for k = 1, n do
      local id, i = ids[k], first + (k - 1) * 5
      local d = known[id]
      if d == nil then d = parse(lasts[k]) or false end
      local speed, taken = args[i + 3], tonumber(args[i + 4]) or now
      local create = string.byte(speed, -1) == 43
      if create then speed = string.sub(speed, 1, -2) end
      local next, outcome = apply_report(c, id, d or nil, args[i + 1], args[i + 2], taken,
        tonumber(speed), jitter, create, writes)
      local shown = next or (outcome == 'STALE' and d) or nil
      if next then known[id] = next end
      if shown then
        local ride = ''
        if shown.state == 'OFFERED' or shown.state == 'ASSIGNED' then
          ride = redis.call('HGET', driver_key(c, id), 'ride') or ''
        end
        out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6] =
          outcome, shown.lng, shown.lat, tostring(shown.ms), shown.state, ride
      elseif outcome == 'ELSEWHERE' then
        out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6] =
          'ELSEWHERE', '', '', '', '', ''
      else
        local _, km, secs = string.match(outcome, '^(%u+)|([^|]+)|([^|]+)$')
        out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6] =
          'IMPLAUSIBLE', km or '', secs or '', '', '', ''
      end
      o = o + 6
    end
    flush(c, writes)
  end
  out[o + 1], out[o + 2] = '_now', tostring(c.now)
  return out
end
