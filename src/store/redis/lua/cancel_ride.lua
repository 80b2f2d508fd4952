-- The rider cancels. arg(1) ride id.
-- SEARCHING or DRIVER_FOUND → CANCELLED (the driver goes back on the
-- market); CANCELLED stays as it is; EXPIRED or COMPLETED is a conflict.
local id = arg(1)
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
local status = expire_if_due(SUBJECT, id)
if status == 'CANCELLED' then return reply('OK', SUBJECT) end
if status ~= 'SEARCHING' and status ~= 'DRIVER_FOUND' then return reply('CONFLICT', SUBJECT) end
set_status(SUBJECT, 'CANCELLED')
end_search(SUBJECT, id)
local driver = redis.call('HGET', SUBJECT, 'driver')
if driver then release_driver(driver, id) end
publish_ride(SUBJECT)
return reply('OK', SUBJECT)
