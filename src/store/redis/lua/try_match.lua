-- One search for a ride, atomically. arg(1) ride id, arg(2) radius (km),
-- arg(3) the searching instance.
-- If the ride is SEARCHING and before its deadline, the nearest fresh
-- AVAILABLE driver within the radius becomes ASSIGNED and the ride
-- DRIVER_FOUND; past the deadline the ride EXPIRES instead. A ride another
-- instance owns now (it took the ride over while this one was cut off) is
-- left to it: ELSEWHERE.
local id, radius, me = arg(1), tonumber(arg(2)), arg(3)
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
if expire_if_due(SUBJECT, id) ~= 'SEARCHING' then return reply('ENDED', SUBJECT) end
if redis.call('HGET', SUBJECT, 'owner') ~= me then return reply('ELSEWHERE', SUBJECT) end
redis.call('HINCRBY', SUBJECT, 'searches', 1)
local at = redis.call('HMGET', SUBJECT, 'lng', 'lat')
local found = nearest(at[1], at[2], radius, 1)
if #found == 0 then return reply('NO_DRIVER', SUBJECT) end
local driver, km = found[1][1], found[1][2]
redis.call('HSET', DRIVER_PREFIX .. driver, 'state', 'ASSIGNED', 'ride', id)
off_market(driver)
publish_driver(driver)
redis.call('HSET', SUBJECT, 'driver', driver, 'distance', km)
set_status(SUBJECT, 'DRIVER_FOUND')
end_search(SUBJECT, id)
publish_ride(SUBJECT)
return reply('MATCHED', SUBJECT)
