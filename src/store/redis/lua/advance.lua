-- Moves a ride one step on. arg(1) ride id, arg(2) the status it leads to,
-- then the statuses the step applies to (the domain's `Step` table: the
-- Rust side passes them, so the rules live in one place).
-- Cancelling a CANCELLED ride returns it as it is; a status the step does
-- not apply to is a CONFLICT. An offer is withdrawn; a ride that ends
-- frees its driver.
local id, to = arg(1), arg(2)
if redis.call('EXISTS', SUBJECT) == 0 then return {'NOT_FOUND'} end
local status = expire_if_due(SUBJECT, id)
if to == 'CANCELLED' and status == 'CANCELLED' then return reply('OK', SUBJECT) end
local applies = false
for i = 3, #ARGV - ARG0 do
  if arg(i) == status then applies = true end
end
if not applies then return reply('CONFLICT', SUBJECT) end
end_offer(SUBJECT, id, 'WITHDRAWN', 0, false)
set_status(SUBJECT, to)
if status == 'SEARCHING' then end_search(SUBJECT, id) end
if to == 'CANCELLED' or to == 'COMPLETED' then
  local driver = redis.call('HGET', SUBJECT, 'driver')
  if driver then release_driver(driver, id) end
end
publish_ride(SUBJECT)
return reply('OK', SUBJECT)
