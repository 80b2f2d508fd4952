-- The fleet's functions: drivers read, taken offline, handed to another
-- area, found near a point; what an area holds.

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

-- A driver moving to another area leaves this one (an AVAILABLE one is
-- DRIVER_OFFLINE in this area's log): own(1) driver id.
-- UNKNOWN; BUSY (OFFERED or ASSIGNED: it stays with its ride's area); or
-- GONE, with what was stored, now removed from every index here.
local function release(keys, args)
  local c = context(keys, args)
  local id = own(c, 1)
  local d = read_driver(c, id)
  if not d then return {'UNKNOWN'} end
  if d.state == 'OFFERED' or d.state == 'ASSIGNED' then return driver_reply(c, 'BUSY', id, d) end
  local flat = driver_reply(c, 'GONE', id, d)
  if c.log and d.state == 'AVAILABLE' then
    -- It leaves this area's market: this area's log says so.
    log_driver(c, 'DRIVER_OFFLINE', id, {lng = d.lng, lat = d.lat, ms = d.ms, state = 'OFFLINE'})
  end
  redis.call('ZREM', c.available, id)
  redis.call('ZREM', c.seen, id)
  redis.call('ZREM', c.offline, id)
  redis.call('HDEL', c.last, id)
  redis.call('DEL', driver_key(c, id))
  return flat
end

-- AVAILABLE fresh drivers near a point. own(1) lng, own(2) lat,
-- own(3) radius (km), own(4) count, own(5) (optional) a ride whose
-- declined drivers are left out (a search's candidates).
-- Returns {id, km, lng, lat, updated, ...}, nearest first.
local function nearby(keys, args)
  local c = context(keys, args)
  local out = {}
  local count, declined, skip = tonumber(own(c, 4)), nil, 0
  if own(c, 5) then
    declined = declined_key(c, own(c, 5))
    skip = redis.call('SCARD', declined)
  end
  local n = 0
  for _, hit in ipairs(nearest(c, own(c, 1), own(c, 2), tonumber(own(c, 3)), count + skip)) do
    if n < count and not (declined and redis.call('SISMEMBER', declined, hit[1]) == 1) then
      local d = hit[3]
      n = n + 1
      table.insert(out, hit[1])
      table.insert(out, hit[2])
      table.insert(out, d.lng)
      table.insert(out, d.lat)
      table.insert(out, tostring(d.ms))
    end
  end
  return out
end

-- What an area holds: {AVAILABLE drivers (fresh or not yet swept),
-- SEARCHING rides}.
local function counts(keys, args)
  local c = context(keys, args)
  return {redis.call('ZCARD', c.available), redis.call('ZCARD', c.searching)}
end
