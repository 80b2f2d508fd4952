-- AVAILABLE fresh drivers near a point. ARGV[9] lng, ARGV[10] lat,
-- ARGV[11] radius (km), ARGV[12] count.
-- Returns {id, km, lng, lat, updated, ...}, nearest first.
local out = {}
for _, hit in ipairs(nearest(ARGV[9], ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[12]))) do
  local d = redis.call('HMGET', DRIVER_PREFIX .. hit[1], 'lng', 'lat', 'updated')
  table.insert(out, hit[1])
  table.insert(out, hit[2])
  table.insert(out, d[1])
  table.insert(out, d[2])
  table.insert(out, d[3])
end
return out
