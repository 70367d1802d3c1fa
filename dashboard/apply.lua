-- civicwall: apply one batch of validated events to a city's state, atomically, and acknowledge it.
--
-- KEYS[1] stream, KEYS[2] dead-letter stream (all keys of a city share one hash tag).
-- ARGV[1] key prefix "cw:{city}:", ARGV[2] consumer group, ARGV[3] JSON batch:
--   {"events": [{id, e, r, t, ts, day, mod, ...fields}], "ack": [entry ids without effect],
--    "repairs": {reason: count}, "recent_keep": n}
-- ARGV[4] number of rejected entries, then for each: entry id, reason, detail, field count, k1, v1, ...
--   (raw bytes, passed outside the JSON so that invalid UTF-8 survives into the dead-letter stream).
--
-- Why one script: the effect of an entry and its XACK happen together or not at all, so a crash can
-- neither lose an entry (acked, not applied) nor count it twice (applied, not acked, applied again:
-- the per-request "x:<event_id>" marker turns the second application into a no-op anyway).
--
-- Order independence: a request's state keeps, per lifecycle type, the event that wins by a fixed
-- rule (earliest creation, latest assignment/resolution/reopen/rating, earliest first response), and
-- every aggregate is derived from that state by retracting the old view and adding the new one. The
-- same set of events therefore yields the same aggregates whatever order it arrives in.
--
-- Speed: a batch's events are grouped by request; each request's state is one JSON string (with the
-- ids of the events already applied to it, for deduplication), read once and written once. Retractions
-- and additions are summed in Lua tables over the whole batch, and only the net changes reach Redis:
-- one HINCRBY per counter that moved, one ZADD and one ZREM per sorted set. A batch of a thousand
-- events thus costs a few thousand Redis calls instead of about fifty thousand.

local P = ARGV[1]
local group = ARGV[2]
local batch = cjson.decode(ARGV[3])
local recent_keep = tonumber(batch.recent_keep or 200)

-- A request's state, stored as JSON at P .. 'r:' .. request id: ct cd cm ceid ch cat dist title text lat
-- lon dl cunit (creation), unit ut ueid (assignment), rt rd (first response), rs rsd rseid rtext runit
-- (resolution), ro roeid (reopening), sat satt satd sate (rating), and x: {event id = 1, ...}.

local function copy(s)
  local c = {}
  for k, v in pairs(s) do c[k] = v end
  return c
end

local function later(ts, eid, best_ts, best_eid)
  if best_ts == nil then return true end
  if ts ~= best_ts then return ts > best_ts end
  return eid > (best_eid or '')
end

local function is_resolved(s)
  return s.rs ~= nil and (s.ro == nil or s.rs > s.ro)
end

-- Net changes of the whole batch: H[key][field] = increment; Z[key][member] = {old = score} (to remove)
-- or {new = score} (to add or move).
local H, Z = {}, {}

local function hinc(key, field, n)
  local h = H[key]
  if h == nil then h = {}; H[key] = h end
  h[field] = (h[field] or 0) + n
end

local function zmember(key, score, id, sign)
  local z = Z[key]
  if z == nil then z = {}; Z[key] = z end
  if sign < 0 then
    z[id] = {old = score}
  else
    local prev = z[id]
    if prev ~= nil and prev.old == score then z[id] = nil else z[id] = {new = score} end
  end
end

-- Add (sign = 1) or retract (sign = -1) everything a request's state contributes to the aggregates.
local A = P .. 'd:all'
local RECENT, RECENT_RES, OPEN, OPEN_DL, TTR_ALL = P .. 'recent', P .. 'recent:res', P .. 'open', P .. 'open:dl',
                                                   P .. 'ttr:all'
local CREATED, FACTS, CHANGES = P .. 'created', P .. 'facts', P .. 'changes'
local CHANGES_KEEP = 20000

-- What a request's state contributes to the aggregates, in five independent parts. Each part reads
-- only the state fields listed with it, so when an event leaves those fields as they were, that
-- part's retraction and re-addition would cancel out and are skipped (see contribute).

-- Key and field names repeat endlessly within a batch: each is built once (string concatenation
-- in Lua allocates and hashes a new string every time).
local function memo(build)
  return setmetatable({}, {__index = function(t, k) local v = build(k); t[k] = v; return v end})
end
local DAY = memo(function(d) return P .. 'd:' .. d end)
local TTR = memo(function(d) return P .. 'ttr:' .. d end)
local FRT = memo(function(d) return P .. 'frt:' .. d end)
local F_CAT = memo(function(v) return 'c:' .. v end)
local F_DIST = memo(function(v) return 'd:' .. v end)
local F_CH = memo(function(v) return 'ch:' .. v end)
local F_UNIT = memo(function(v) return 'u:' .. v end)
local F_HOUR = memo(function(m) return 'h:' .. math.floor(m / 60) end)
local F_MIN = memo(function(m) return 'm:' .. m end)
local F_DC = memo(function(dist) return memo(function(cat) return 'dc:' .. dist .. '|' .. cat end) end)
local F_RES_CAT = memo(function(v) return 'res_c:' .. v end)
local F_RES_DIST = memo(function(v) return 'res_d:' .. v end)

local function part_created(s, id, sign)
  local D = DAY[s.cd]
  local cat, dist = s.cat or '', s.dist or ''
  local fc, fd, fch = F_CAT[cat], F_DIST[dist], F_CH[s.ch or '']
  hinc(D, 'n', sign); hinc(A, 'n', sign)
  hinc(D, fc, sign); hinc(A, fc, sign)
  hinc(D, fd, sign); hinc(A, fd, sign)
  hinc(D, fch, sign); hinc(A, fch, sign)
  hinc(D, F_HOUR[s.cm], sign)
  hinc(D, F_MIN[s.cm], sign)
  hinc(D, F_DC[dist][cat], sign)
  zmember(RECENT, s.ct, id, sign)
  zmember(CREATED, s.ct, id, sign)
end

local function part_unit(s, id, sign)
  local unit = s.unit or s.cunit or ''
  if unit ~= '' then
    local fu = F_UNIT[unit]
    hinc(DAY[s.cd], fu, sign); hinc(A, fu, sign)
  end
end

local function part_resolution(s, id, sign)
  if is_resolved(s) then
    local D = DAY[s.cd]
    hinc(D, 'rr', sign); hinc(A, 'rr', sign)
    local R = DAY[s.rsd]
    hinc(R, 'res', sign)
    hinc(R, F_RES_CAT[s.cat or ''], sign)
    hinc(R, F_RES_DIST[s.dist or ''], sign)
    if s.dl ~= nil then
      hinc(R, 'res_dl', sign)
      hinc(A, 'res_dl', sign)
      if s.rs <= s.dl then
        hinc(R, 'res_ot', sign)
        hinc(A, 'res_ot', sign)
      end
    end
    local dur = s.rs - s.ct
    if dur >= 0 then
      zmember(TTR[s.rsd], dur, id, sign)
      zmember(TTR_ALL, dur, id, sign)
    else
      hinc(A, 'neg_ttr', sign)
    end
    zmember(RECENT_RES, s.rs, id, sign)
  else
    hinc(A, 'open', sign)
    zmember(OPEN, s.ct, id, sign)
    if s.dl ~= nil then zmember(OPEN_DL, s.dl, id, sign) end
  end
end

local function part_response(s, id, sign)
  if s.rt ~= nil then
    local dur = s.rt - s.ct
    hinc(DAY[s.rd], 'resp', sign)
    if dur >= 0 then
      zmember(FRT[s.rd], dur, id, sign)
    else
      hinc(A, 'neg_frt', sign)
    end
  end
end

local function part_rating(s, id, sign)
  if s.sat ~= nil then
    local S = DAY[s.satd]
    hinc(S, 'rated', sign); hinc(A, 'rated', sign)
    if s.sat >= 4 then hinc(S, 'sat', sign); hinc(A, 'sat', sign) end
  end
end

local PARTS = {
  {part_created, {'ct', 'cd', 'cm', 'cat', 'dist', 'ch'}},
  {part_unit, {'ct', 'cd', 'unit', 'cunit'}},
  {part_resolution, {'ct', 'cd', 'cat', 'dist', 'rs', 'ro', 'rsd', 'dl'}},
  {part_response, {'ct', 'rt', 'rd'}},
  {part_rating, {'ct', 'sat', 'satd'}},
}

-- Retract what the old state contributed and add what the new one does, part by part, skipping the
-- parts whose fields did not change. A state without a creation contributes nothing (yet).
local function contribute(old, new, id)
  for _, part in ipairs(PARTS) do
    local fn, fields = part[1], part[2]
    local same = true
    for _, name in ipairs(fields) do
      if old[name] ~= new[name] then same = false; break end
    end
    if not same then
      if old.ct ~= nil then fn(old, id, -1) end
      if new.ct ~= nil then fn(new, id, 1) end
    end
  end
end

-- Returns true when the event changed the state.
local function mutate(s, ev)
  local t = ev.t
  if t == 'created' then
    if s.ct ~= nil and not later(s.ct, s.ceid, ev.ts, ev.e) then return false end
    s.ct, s.cd, s.cm, s.ceid = ev.ts, ev.day, ev.mod, ev.e
    s.ch, s.cat, s.dist, s.title, s.text = ev.ch, ev.cat, ev.dist, ev.title, ev.text
    s.lat, s.lon, s.dl, s.cunit = ev.lat, ev.lon, ev.dl, ev.unit
    return true
  elseif t == 'assigned' then
    if not later(ev.ts, ev.e, s.ut, s.ueid) then return false end
    s.unit, s.ut, s.ueid = ev.unit, ev.ts, ev.e
    return true
  elseif t == 'responded' then
    if s.rt ~= nil and s.rt <= ev.ts then return false end
    s.rt, s.rd = ev.ts, ev.day
    return true
  elseif t == 'resolved' then
    if not later(ev.ts, ev.e, s.rs, s.rseid) then return false end
    s.rs, s.rsd, s.rseid, s.rtext, s.runit = ev.ts, ev.day, ev.e, ev.text, ev.unit
    return true
  elseif t == 'reopened' then
    if not later(ev.ts, ev.e, s.ro, s.roeid) then return false end
    s.ro, s.roeid = ev.ts, ev.e
    return true
  elseif t == 'rated' then
    if not later(ev.ts, ev.e, s.satt, s.sate) then return false end
    s.sat, s.satt, s.satd, s.sate = ev.sat, ev.ts, ev.day, ev.e
    return true
  end
  return false
end

local applied, duplicates, unchanged = 0, 0, 0
local acks = {}
local max_ts = nil

-- Group the batch's events by request, keeping their order of arrival.
local byreq, order = {}, {}
for _, ev in ipairs(batch.events) do
  acks[#acks + 1] = ev.id
  local list = byreq[ev.r]
  if list == nil then
    list = {}
    byreq[ev.r] = list
    order[#order + 1] = ev.r
  end
  list[#list + 1] = ev
end

-- The few fields the manager view computes with, as a small JSON object per appeal (no texts), so a
-- web worker can hold the recent months in memory without reading every appeal's whole state.
local function facts(s)
  local unit = s.unit or s.cunit
  return cjson.encode({ct = s.ct, dl = s.dl, cat = s.cat, dist = s.dist, ch = s.ch, u = unit, rt = s.rt,
                       rs = s.rs, ro = s.ro, sat = s.sat, satt = s.satt})
end

local orphans_add, orphans_del = {}, {}
local facts_set, changed_ids = {}, {}
for _, rid in ipairs(order) do
  local rk = P .. 'r:' .. rid
  local raw = redis.call('GET', rk)
  local old = raw and cjson.decode(raw) or {}
  local seen = old.x or {}
  old.x = nil
  local new = copy(old)
  local marked, changed = false, false
  for _, ev in ipairs(byreq[rid]) do
    if seen[ev.e] then
      duplicates = duplicates + 1
    else
      seen[ev.e] = 1
      marked = true
      if mutate(new, ev) then
        applied = applied + 1
        changed = true
      else
        unchanged = unchanged + 1
      end
      if max_ts == nil or ev.ts > max_ts then max_ts = ev.ts end
    end
  end
  if changed then
    contribute(old, new, rid)
    -- Events whose creation has not arrived yet are kept, and counted, until it does.
    if new.ct == nil then
      orphans_add[#orphans_add + 1] = rid
    else
      if old.ct == nil then orphans_del[#orphans_del + 1] = rid end
      facts_set[#facts_set + 1] = rid
      facts_set[#facts_set + 1] = facts(new)
      changed_ids[#changed_ids + 1] = rid
    end
  end
  if marked then
    local state = changed and new or old
    state.x = seen
    local enc = cjson.encode(state)
    redis.call('SET', rk, enc)
  end
end

-- Lua's unpack takes a few thousand values at most: chunk long argument lists.
local function chunked(cmd, key, list, width)
  for i = 1, #list, width do
    local part = {}
    for j = i, math.min(i + width - 1, #list) do part[#part + 1] = list[j] end
    redis.call(cmd, key, unpack(part))
  end
end

for key, fields in pairs(H) do
  for field, n in pairs(fields) do
    if n ~= 0 then redis.call('HINCRBY', key, field, n) end
  end
end
-- The two "recent" sets keep only their newest recent_keep members: of a batch's additions, only
-- that many newest can survive the trim below, so the rest are never written (a backfill adds
-- thousands per batch). Ties are ordered by member, as Redis orders them.
local function newest(adds, keep)
  if #adds <= 2 * keep then return adds end
  local pairs_ = {}
  for i = 1, #adds, 2 do pairs_[#pairs_ + 1] = {adds[i], adds[i + 1]} end
  table.sort(pairs_, function(a, b)
    if a[1] ~= b[1] then return a[1] > b[1] end
    return a[2] > b[2]
  end)
  local out = {}
  for i = 1, keep do out[#out + 1] = pairs_[i][1]; out[#out + 1] = pairs_[i][2] end
  return out
end

for key, members in pairs(Z) do
  local adds, dels = {}, {}
  for id, change in pairs(members) do
    if change.new ~= nil then
      adds[#adds + 1] = change.new
      adds[#adds + 1] = id
    else
      dels[#dels + 1] = id
    end
  end
  if key == RECENT or key == RECENT_RES then adds = newest(adds, recent_keep) end
  chunked('ZADD', key, adds, 1000)
  chunked('ZREM', key, dels, 1000)
end
chunked('SADD', P .. 'orphans', orphans_add, 1000)
chunked('SREM', P .. 'orphans', orphans_del, 1000)
chunked('HSET', FACTS, facts_set, 1000)
-- The change feed: one entry per batch naming the appeals whose facts it changed, numbered without gaps
-- (seq), so a reader that finds a gap knows entries were trimmed before it read them and loads afresh.
if #changed_ids > 0 then
  local seq = redis.call('HINCRBY', P .. 'meta', 'changes_seq', 1)
  redis.call('XADD', CHANGES, 'MAXLEN', '~', CHANGES_KEEP, '*', 'seq', seq, 'ids', table.concat(changed_ids, '\n'))
end

for _, id in ipairs(batch.ack or {}) do acks[#acks + 1] = id end

local nrej = tonumber(ARGV[4] or 0)
local pos = 5
for _ = 1, nrej do
  local id, reason, detail, nf = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2], tonumber(ARGV[pos + 3])
  local entry = {'reason', reason, 'detail', detail, 'entry_id', id}
  for j = 0, nf - 1 do
    entry[#entry + 1] = 'f:' .. ARGV[pos + 4 + 2 * j]
    entry[#entry + 1] = ARGV[pos + 5 + 2 * j]
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', unpack(entry))
  redis.call('HINCRBY', P .. 'rejected', reason, 1)
  redis.call('HINCRBY', P .. 'rejected', 'total', 1)
  acks[#acks + 1] = id
  pos = pos + 4 + 2 * nf
end

for reason, count in pairs(batch.repairs or {}) do
  redis.call('HINCRBY', P .. 'repaired', reason, count)
end

local meta = P .. 'meta'
redis.call('HINCRBY', meta, 'applied', applied)
redis.call('HINCRBY', meta, 'duplicates', duplicates)
redis.call('HINCRBY', meta, 'unchanged', unchanged)
if max_ts ~= nil then
  local prev = tonumber(redis.call('HGET', meta, 'last_event_ts') or '0')
  if max_ts > prev then redis.call('HSET', meta, 'last_event_ts', max_ts) end
end

redis.call('ZREMRANGEBYRANK', P .. 'recent', 0, -(recent_keep + 1))
redis.call('ZREMRANGEBYRANK', P .. 'recent:res', 0, -(recent_keep + 1))

-- XACK takes many ids; chunk to stay below Lua's unpack limit.
local acked = 0
for i = 1, #acks, 1000 do
  local chunk = {}
  for j = i, math.min(i + 999, #acks) do chunk[#chunk + 1] = acks[j] end
  acked = acked + redis.call('XACK', KEYS[1], group, unpack(chunk))
end

return {applied, duplicates, unchanged, nrej, acked}
