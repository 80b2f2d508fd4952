-- AVAILABLE fresh drivers near a point. arg(1) lng, arg(2) lat,
-- arg(3) radius (km), arg(4) count.
-- Returns {id, km, lng, lat, updated, ...}, nearest first.
local out = {}
for _, hit in ipairs(nearest(arg(1), arg(2), tonumber(arg(3)), tonumber(arg(4)))) do
  local d = redis.call('HMGET', DRIVER_PREFIX .. hit[1], 'lng', 'lat', 'updated')
  table.insert(out, hit[1])
  table.insert(out, hit[2])
  table.insert(out, d[1])
  table.insert(out, d[2])
  table.insert(out, d[3])
end
return out
