-- A driver leaves the market. arg(1) driver id.
-- An AVAILABLE or OFFERED driver (declining its offer) goes OFFLINE; an
-- ASSIGNED one is a CONFLICT: its ride must end first.
local id = arg(1)
local state = redis.call('HGET', SUBJECT, 'state')
if not state then return {'NOT_FOUND'} end
if state == 'ASSIGNED' then return reply('CONFLICT', SUBJECT) end
if state == 'AVAILABLE' or state == 'OFFERED' then go_offline(id) else publish_driver(id) end
return reply('OK', SUBJECT)
