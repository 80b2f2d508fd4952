-- A driver (or a dispatcher) answers a ride's offer. arg(1) ride id,
-- arg(2) the driver answering ('' for whoever holds it), arg(3) '1' to
-- accept, '0' to decline.
-- Replies NO_OFFER (none, or to another driver) or TIMED_OUT (past its
-- deadline), changing nothing; or OK: accepted, the ride is DRIVER_FOUND
-- and the driver ASSIGNED; declined, the driver is AVAILABLE again and
-- never offered the ride again.
local id, driver, accept = arg(1), arg(2), arg(3) == '1'
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
expire_if_due(SUBJECT, id)
local o = redis.call('HMGET', SUBJECT, 'offer_driver', 'offer_expires')
if not o[1] or (driver ~= '' and o[1] ~= driver) then return reply('NO_OFFER', SUBJECT) end
if NOW >= tonumber(o[2]) then return reply('TIMED_OUT', SUBJECT) end
end_offer(SUBJECT, id, accept and 'ACCEPTED' or 'DECLINED', 0, false)
return reply('OK', SUBJECT)
