-- The event log's functions: reading an area's log by position, the
-- (sink, area) delivery leases and acknowledged positions, trimming that
-- never passes what a sink lacks (past the hard cap, the dead letters
-- take it), and redelivery of dead letters.
--
-- Keys: `T:log` (the stream; entries as `log_event` writes them),
-- `T:log:acked` (HASH sink -> "epoch|ms-n", and `_removed`: the highest
-- position trimmed), `T:log:lease:<sink>` (the
-- holder, expiring), `T:log:dead` (dead letters: the event's fields plus
-- `sink`, `id` (its position) and `epoch`), `T:log:retry:<sink>` (dead
-- letters queued for redelivery, same fields).

local function lease_key(c, sink) return c.tag .. ':log:lease:' .. sink end
local function retry_key(c, sink) return c.tag .. ':log:retry:' .. sink end

-- A position as two numbers (a stream id: "ms-n").
local function seq(id)
  local ms, n = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(n)
end

local function seq_less(a, b)
  local am, an = seq(a)
  local bm, bn = seq(b)
  return am < bm or (am == bm and an < bn)
end

-- The highest position ever removed from the log ('0-0': none), kept in
-- `T:log:acked` under `_removed` (no sink id starts with `_`).
local function removed_through(c)
  return redis.call('HGET', c.log_acked, '_removed') or '0-0'
end

-- own(1) the epoch of `after` ('' for none), own(2) its position, own(3)
-- most events. Returns {epoch ('' when the area has none), '1' when
-- nothing after `after` was removed (else '0': the page starts at the
-- oldest kept), entries (XRANGE's)}.
local function events_read(keys, args)
  local c = context(keys, args)
  local e = redis.call('HGET', c.ids, 'epoch') or ''
  local after_epoch, after, count = own(c, 1), own(c, 2), tonumber(own(c, 3))
  local start, recovered = '-', '1'
  if after_epoch ~= '' then
    if after_epoch == e then
      start = '(' .. after
      if seq_less(after, removed_through(c)) then recovered = '0' end
    else
      recovered = '0'
    end
  end
  return {e, recovered, redis.call('XRANGE', c.log_key, start, '+', 'COUNT', count)}
end

-- Takes or renews (sink, area)'s delivery lease. own(1) sink, own(2)
-- holder, own(3) lease (ms). Returns {'ELSEWHERE'} or {'HELD', the sink's
-- last acknowledged "epoch|position" ('' for none), the area's epoch}.
local function events_lease(keys, args)
  local c = context(keys, args)
  local sink, holder, ms = own(c, 1), own(c, 2), own(c, 3)
  local key = lease_key(c, sink)
  local h = redis.call('GET', key)
  if h and h ~= holder then return {'ELSEWHERE'} end
  redis.call('SET', key, holder, 'PX', ms)
  return {'HELD', redis.call('HGET', c.log_acked, sink) or '',
    redis.call('HGET', c.ids, 'epoch') or ''}
end

-- Gives the lease up. own(1) sink, own(2) holder.
local function events_release(keys, args)
  local c = context(keys, args)
  local key = lease_key(c, own(c, 1))
  if redis.call('GET', key) == own(c, 2) then redis.call('DEL', key) end
  return 'OK'
end

-- Copies the log's entry at `id` to the dead letters, for `sink`; returns
-- how many dead letters the cap dropped.
local function bury(c, sink, id, fields, e, cap)
  local entry = {'sink', sink, 'id', id, 'epoch', e}
  for i = 1, #fields do table.insert(entry, fields[i]) end
  local before = redis.call('XLEN', c.log_dead)
  redis.call('XADD', c.log_dead, 'MAXLEN', '=', cap, '*', unpack(entry))
  return math.max(0, before + 1 - cap)
end

-- Stores a sink's last acknowledged position, while `holder` holds its
-- lease. own(1) sink, own(2) holder, own(3) epoch, own(4) position, own(5)
-- dead-letter cap, then positions given up on (copied to the dead
-- letters). Returns {'OK', dead letters dropped} or {'LOST'}.
local function events_ack(keys, args)
  local c = context(keys, args)
  local sink, holder, e, id, cap = own(c, 1), own(c, 2), own(c, 3), own(c, 4), tonumber(own(c, 5))
  if redis.call('GET', lease_key(c, sink)) ~= holder then return {'LOST'} end
  -- Only forward within an epoch: a late acknowledgement of an older
  -- event leaves the position where it is.
  local ce, cpos = string.match(redis.call('HGET', c.log_acked, sink) or '', '^([^|]*)|(.+)$')
  local forward = not (ce == e and cpos and not seq_less(cpos, id))
  local dropped = 0
  local i = 6
  while own(c, i) do
    local found = redis.call('XRANGE', c.log_key, own(c, i), own(c, i))
    if #found > 0 then dropped = dropped + bury(c, sink, found[1][1], found[1][2], e, cap) end
    i = i + 1
  end
  if forward then redis.call('HSET', c.log_acked, sink, e .. '|' .. id) end
  return {'OK', tostring(dropped)}
end

-- Trims the log. own(1) age (ms), own(2) most events, own(3) dead-letter
-- cap, own(4) most entries moved past the cap in this call, then the
-- sinks delivering this area. Events older than the age that every sink
-- has go; past the cap, the oldest go whatever the sinks lack (copied to
-- the dead letters of each sink that lacked one). Returns {trimmed, dead
-- lettered, dead letters dropped, kept}.
local function events_trim(keys, args)
  local c = context(keys, args)
  local age, max_events, cap, budget = tonumber(own(c, 1)), tonumber(own(c, 2)),
    tonumber(own(c, 3)), tonumber(own(c, 4))
  local e = redis.call('HGET', c.ids, 'epoch') or ''
  local before = redis.call('XLEN', c.log_key)
  if before == 0 then return {0, 0, 0, 0} end
  -- Each sink's acknowledged position in this epoch ('0-0': none).
  local acked = {}
  local i = 5
  while own(c, i) do
    local a = redis.call('HGET', c.log_acked, own(c, i)) or ''
    local ae, pos = string.match(a, '^([^|]*)|(.+)$')
    if ae ~= e then pos = '0-0' end
    acked[own(c, i)] = pos
    i = i + 1
  end
  -- Trimmed below min(every sink's position + 1, the age's cutoff).
  local ms, n = c.now - age + 1, 0
  for _, pos in pairs(acked) do
    local am, an = seq(pos)
    if am < ms or (am == ms and an + 1 < n) then ms, n = am, an + 1 end
  end
  local last_trimmed = redis.call('XREVRANGE', c.log_key, '(' .. ms .. '-' .. n, '-', 'COUNT', 1)
  if #last_trimmed > 0 then
    redis.call('XTRIM', c.log_key, 'MINID', '=', ms .. '-' .. n)
    redis.call('HSET', c.log_acked, '_removed', last_trimmed[1][1])
  end
  local kept = redis.call('XLEN', c.log_key)
  local trimmed = before - kept
  local buried, dropped = 0, 0
  if kept > max_events then
    local over = math.min(kept - max_events, budget)
    local oldest = redis.call('XRANGE', c.log_key, '-', '+', 'COUNT', over)
    for _, entry in ipairs(oldest) do
      -- Dead-lettered when some sink lacked it; trimmed when all had it.
      local lacked = false
      for sink, pos in pairs(acked) do
        if seq_less(pos, entry[1]) then
          lacked = true
          dropped = dropped + bury(c, sink, entry[1], entry[2], e, cap)
        end
      end
      if lacked then buried = buried + 1 else trimmed = trimmed + 1 end
    end
    if #oldest > 0 then
      local last = oldest[#oldest][1]
      local lm, ln = string.match(last, '^(%d+)-(%d+)$')
      redis.call('XTRIM', c.log_key, 'MINID', '=', lm .. '-' .. (tonumber(ln) + 1))
      redis.call('HSET', c.log_acked, '_removed', last)
    end
    kept = kept - #oldest
  end
  return {trimmed, buried, dropped, kept}
end

-- Moves dead letters to their sinks' redelivery queues. own(1) the sink
-- ('' for every sink), own(2) most to move, own(3) a queue's cap. Returns
-- how many moved.
local function events_redeliver(keys, args)
  local c = context(keys, args)
  local want, max, cap = own(c, 1), tonumber(own(c, 2)), tonumber(own(c, 3))
  local moved, start = 0, '-'
  while moved < max do
    local page = redis.call('XRANGE', c.log_dead, start, '+', 'COUNT', 256)
    if #page == 0 then break end
    for _, entry in ipairs(page) do
      local sink = nil
      for j = 1, #entry[2], 2 do
        if entry[2][j] == 'sink' then sink = entry[2][j + 1] end
      end
      if moved < max and sink and (want == '' or sink == want) then
        local queue = retry_key(c, sink)
        if redis.call('XLEN', queue) < cap then
          redis.call('XADD', queue, '*', unpack(entry[2]))
          redis.call('XDEL', c.log_dead, entry[1])
          moved = moved + 1
        end
      end
      start = '(' .. entry[1]
    end
  end
  return moved
end

-- The oldest entries of a sink's redelivery queue. own(1) sink, own(2) count.
local function events_retries(keys, args)
  local c = context(keys, args)
  return redis.call('XRANGE', retry_key(c, own(c, 1)), '-', '+', 'COUNT', tonumber(own(c, 2)))
end

-- The entries at the front of a redelivery queue whose event positions
-- are the function's own arguments from own(first) on.
local function queued(c, queue, first)
  local wanted, n = {}, 0
  local i = first
  while own(c, i) do
    wanted[own(c, i)] = true
    n = n + 1
    i = i + 1
  end
  local out = {}
  for _, entry in ipairs(redis.call('XRANGE', queue, '-', '+', 'COUNT', n + 16)) do
    for j = 1, #entry[2], 2 do
      if entry[2][j] == 'id' and wanted[entry[2][j + 1]] then table.insert(out, entry) end
    end
  end
  return out
end

-- Removes redelivered events from the front of a sink's queue. own(1)
-- sink, then the events' positions.
local function events_retried(keys, args)
  local c = context(keys, args)
  local queue = retry_key(c, own(c, 1))
  for _, entry in ipairs(queued(c, queue, 2)) do redis.call('XDEL', queue, entry[1]) end
  if redis.call('XLEN', queue) == 0 then redis.call('DEL', queue) end
  return 'OK'
end

-- How many dead letters the area holds.
local function events_dead(keys, args)
  local c = context(keys, args)
  return redis.call('XLEN', c.log_dead)
end

-- The area's newest event: {epoch, its position} ('' for either when
-- there is none).
local function events_newest(keys, args)
  local c = context(keys, args)
  local last = redis.call('XREVRANGE', c.log_key, '+', '-', 'COUNT', 1)
  local e = redis.call('HGET', c.ids, 'epoch') or ''
  if #last == 0 or e == '' then return {'', ''} end
  return {e, last[1][1]}
end

-- Moves events of a sink's redelivery queue back to the dead letters (a
-- redelivery the sink still refused past its max age). own(1) sink,
-- own(2) the dead letters' cap, then the events' positions. Returns how
-- many dead letters the cap dropped.
local function events_rebury(keys, args)
  local c = context(keys, args)
  local queue, cap = retry_key(c, own(c, 1)), tonumber(own(c, 2))
  local dropped = 0
  for _, entry in ipairs(queued(c, queue, 3)) do
    local before = redis.call('XLEN', c.log_dead)
    redis.call('XADD', c.log_dead, 'MAXLEN', '=', cap, '*', unpack(entry[2]))
    dropped = dropped + math.max(0, before + 1 - cap)
    redis.call('XDEL', queue, entry[1])
  end
  if redis.call('XLEN', queue) == 0 then redis.call('DEL', queue) end
  return dropped
end
