-- A driver reports its position. arg(1) driver id, arg(2) lng,
-- arg(3) lat, arg(4) fastest plausible speed (km/h), arg(5) GPS
-- jitter allowed on top (km).
-- A new or OFFLINE driver becomes AVAILABLE; an ASSIGNED one stays ASSIGNED.
-- A jump faster than plausible is refused and changes nothing.
local outcome = apply_report(arg(1), arg(2), arg(3), NOW, tonumber(arg(4)), tonumber(arg(5)))
if outcome[1] == 'IMPLAUSIBLE' then
  return {'IMPLAUSIBLE', 'km', outcome[2], 'seconds', outcome[3]}
end
return reply('OK', SUBJECT)
