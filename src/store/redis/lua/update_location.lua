-- A driver reports its position. ARGV[10] driver id, ARGV[11] lng,
-- ARGV[12] lat, ARGV[13] fastest plausible speed (km/h), ARGV[14] GPS
-- jitter allowed on top (km).
-- A new or OFFLINE driver becomes AVAILABLE; an ASSIGNED one stays ASSIGNED.
-- A jump faster than plausible is refused and changes nothing.
local outcome = apply_report(ARGV[10], ARGV[11], ARGV[12], NOW, tonumber(ARGV[13]), tonumber(ARGV[14]))
if outcome[1] == 'IMPLAUSIBLE' then
  return {'IMPLAUSIBLE', 'km', outcome[2], 'seconds', outcome[3]}
end
return reply('OK', SUBJECT)
