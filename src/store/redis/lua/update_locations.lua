-- Many position reports in one round trip. arg(1) fastest plausible
-- speed (km/h), arg(2) GPS jitter (km), then groups of four: driver id,
-- lng, lat, when the position was taken (ms).
-- Returns one tag per report: OK, STALE or IMPLAUSIBLE|km|seconds.
local max_kmh, jitter = tonumber(arg(1)), tonumber(arg(2))
local out = {}
for i = ARG0 + 3, #ARGV, 4 do
  local outcome = apply_report(ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), max_kmh, jitter)
  table.insert(out, table.concat(outcome, '|'))
end
return out
