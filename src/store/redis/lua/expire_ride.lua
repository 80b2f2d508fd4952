-- Expires a SEARCHING ride once its deadline has passed. ARGV[10] ride id.
local id = ARGV[10]
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
expire_if_due(SUBJECT, id)
return reply('OK', SUBJECT)
