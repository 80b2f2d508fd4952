-- AVAILABLE fresh drivers near a point. ARGV[10] lng, ARGV[11] lat,
-- ARGV[12] radius (km), ARGV[13] count.
-- Returns {id, km, lng, lat, updated, ...}, nearest first.
local out = {}
for _, hit in ipairs(nearest(ARGV[10], ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13]))) do
  local d = redis.call('HMGET', DRIVER_PREFIX .. hit[1], 'lng', 'lat', 'updated')
  table.insert(out, hit[1])
  table.insert(out, hit[2])
  table.insert(out, d[1])
  table.insert(out, d[2])
  table.insert(out, d[3])
end
return out
