-- One search for a ride, atomically. arg(1) ride id, arg(2) radius (km),
-- arg(3) the searching instance, arg(4) how long an offer waits for its
-- answer (ms; 0: no offers, assign at once), arg(5) the offers a driver may
-- let time out in a row before it goes OFFLINE (0: any number).
-- Past its deadline the ride EXPIRES (withdrawing any offer): ENDED. A ride
-- another instance owns now (it took the ride over while this one was cut
-- off) is left to it: ELSEWHERE. An offer that still waits: OFFERED, as it
-- is. One past its deadline times out (that driver is never offered the
-- ride again); then the nearest fresh AVAILABLE driver within the radius
-- not offered it before is offered it (OFFERED) or, without offers,
-- assigned (MATCHED); none: NO_DRIVER.
local id, radius, me = arg(1), tonumber(arg(2)), arg(3)
local offer_ms, ignore_limit = tonumber(arg(4)), tonumber(arg(5))
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
if expire_if_due(SUBJECT, id) ~= 'SEARCHING' then return reply('ENDED', SUBJECT) end
if redis.call('HGET', SUBJECT, 'owner') ~= me then return reply('ELSEWHERE', SUBJECT) end
local waiting = redis.call('HGET', SUBJECT, 'offer_expires')
if waiting then
  if NOW < tonumber(waiting) then return reply('OFFERED', SUBJECT) end
  end_offer(SUBJECT, id, 'TIMED_OUT', ignore_limit, false)
end
redis.call('HINCRBY', SUBJECT, 'searches', 1)
local at = redis.call('HMGET', SUBJECT, 'lng', 'lat')
local declined = DECLINED_PREFIX .. id
local pick = nil
for _, hit in ipairs(nearest(at[1], at[2], radius, redis.call('SCARD', declined) + 1)) do
  if redis.call('SISMEMBER', declined, hit[1]) == 0 then
    pick = hit
    break
  end
end
if not pick then return reply('NO_DRIVER', SUBJECT) end
local driver, km = pick[1], pick[2]
local dkey = DRIVER_PREFIX .. driver
if offer_ms > 0 then
  redis.call('HSET', dkey, 'state', 'OFFERED', 'ride', id)
  -- Off the map of available drivers; still by last report, so a driver
  -- falling silent with an offer declines it.
  redis.call('ZREM', K_AVAILABLE, driver)
  publish_driver(driver)
  local rev = redis.call('HINCRBY', SUBJECT, 'revision', 1)
  redis.call('HSET', SUBJECT, 'offer_driver', driver, 'offer_km', km, 'offer_at', NOW,
    'offer_expires', NOW + offer_ms, 'offer_rev', rev)
  publish_ride(SUBJECT)
  return reply('OFFERED', SUBJECT)
end
redis.call('HSET', dkey, 'state', 'ASSIGNED', 'ride', id)
off_market(driver)
publish_driver(driver)
redis.call('HSET', SUBJECT, 'driver', driver, 'distance', km)
set_status(SUBJECT, 'DRIVER_FOUND')
end_search(SUBJECT, id)
publish_ride(SUBJECT)
return reply('MATCHED', SUBJECT)
