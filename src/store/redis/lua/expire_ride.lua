-- Expires a SEARCHING ride once its deadline has passed. arg(1) ride id.
local id = arg(1)
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
expire_if_due(SUBJECT, id)
return reply('OK', SUBJECT)
