-- The driver completes the ride. arg(1) ride id.
-- DRIVER_FOUND → COMPLETED (the driver goes back on the market); anything
-- else is a conflict.
local id = arg(1)
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
if expire_if_due(SUBJECT, id) ~= 'DRIVER_FOUND' then return reply('CONFLICT', SUBJECT) end
set_status(SUBJECT, 'COMPLETED')
local driver = redis.call('HGET', SUBJECT, 'driver')
if driver then release_driver(driver, id) end
publish_ride(SUBJECT)
return reply('OK', SUBJECT)
