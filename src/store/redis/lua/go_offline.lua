-- A driver leaves the market. ARGV[10] driver id.
local id = ARGV[10]
local state = redis.call('HGET', SUBJECT, 'state')
if not state then return {'NOT_FOUND'} end
if state == 'ASSIGNED' then return reply('CONFLICT', SUBJECT) end
redis.call('HSET', SUBJECT, 'state', 'OFFLINE')
off_market(id)
publish_driver(id)
return reply('OK', SUBJECT)
