-- A driver leaves the market. arg(1) driver id.
local id = arg(1)
local state = redis.call('HGET', SUBJECT, 'state')
if not state then return {'NOT_FOUND'} end
if state == 'ASSIGNED' then return reply('CONFLICT', SUBJECT) end
if state == 'AVAILABLE' then go_offline(id) else publish_driver(id) end
return reply('OK', SUBJECT)
