-- Switchboard's Redis engine: every step that must be atomic is one call of this script.
--
-- ARGV[1] key prefix, ARGV[2] operation, ARGV[3] calling node, ARGV[4] now (ms), ARGV[5] limits
-- (comma-separated, order in LIMIT_NAMES), ARGV[6] the epoch the node knows ('' before it knows
-- one), ARGV[7] a fresh epoch of the node's for when a new one must start, ARGV[8] the run_id of
-- the Redis the node checked it against, ARGV[9...] the operation's own arguments (A below).
--
-- Every call answers {result, counters, states, wakes, closed, pressured, pattern changes}
-- (see redis-engine.ts), except when the node's epoch is not the current one: then it answers the
-- status "EPOCH <current epoch>" and does nothing else (the node drops what it cached of the old
-- data and calls again).
-- What other nodes must learn (wake-ups, closes, message states of their own messages, pattern
-- changes) goes out as one PUBLISH on <prefix>ev at the end of the call, with the epoch.
--
-- The epoch names the keyspace: every key below lives under P = <prefix><epoch>:, so a new epoch is
-- a new, empty keyspace and nothing of the data before it can be read again. Only the cluster's
-- own keys live under the bare prefix: <prefix>epoch (the current epoch), <prefix>run (the Redis
-- run_id the epoch was last checked against) and the channel <prefix>ev.
--
-- Keys (P = <prefix><epoch>:; sid = session id; mid = message id, made by the node, never reused:
-- "t…" when someone listens to its states, "m…" otherwise):
--   P s:<sid>    hash  a address, p protocol, u user, c created, ds dedupe sequence, and st: the
--                      counters a take or an admit needs, in one field (see loadState)
--   P u:<sid>, P n:<sid>  lists of unsent "mid|at" (urgent, normal)
--   P t:<sid>    zset  the unacked tail: score id, member "mid|attempts|at|s or r"
--   P k:<sid>    list  client ids to ack on the next take
--   P d:<sid>    zset  dedupe window: member client id, score arrival sequence
--   P sub:<sid>  set   the session's patterns;  P pat:<pattern>  set of sids
--   P patterns   set   every pattern someone holds;  P patver  counter of pattern changes,
--                      P patadd  the change that last added a pattern
--   P m:<mid>    hash  d body (for nodes), y cost (what it holds: the queue bounds), w wire bytes (the batch limits), r reliable, c created, n references,
--                      o origin ("<node>:<key>" of the listener of its states)
--   P seen zset (sid by last seen), P addr hash (address -> sid), P protos hash (protocol -> count),
--   P tomb hash + P tombq list (closed sids and why), P lost (set for a while after data was lost)
local P0, op, node, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local known, candidate, run = ARGV[6], ARGV[7], ARGV[8]
-- Where the operation's own arguments start.
local A = 9
local L = {}
do
  local LIMIT_NAMES = { 'maxQ', 'maxB', 'maxUnacked', 'unrelHW', 'pressHW', 'ttl', 'window', 'maxSessions',
    'maxSubs', 'tombstones', 'lostTtl', 'windowBytes' }
  local i = 1
  for v in string.gmatch(ARGV[5], '[^,]+') do
    L[LIMIT_NAMES[i]] = tonumber(v)
    i = i + 1
  end
end
local INT32_MAX = 2147483647
local call = redis.call

-- What remembering one client id holds (core/memory-cost.ts idCost; Lua counts bytes, not UTF-16
-- units, so a non-ASCII id costs a little more here: still an upper bound).
local function idCost(id)
  return 64 + 2 * #id
end

-- Pending acks (list ak, their bytes in field kb of sk) are bounded by half the dedupe window
-- (engine.ts pendingAckBounds): so every pending ack's id is still in the window, and the retry of
-- a message whose ack its client never got is a duplicate.
local function ackBounds()
  return math.ceil(L.window / 2), math.ceil(L.windowBytes / 2)
end

-- The dedupe window (zset dk, arrival sequence as score) past its bounds, with db the bytes of its
-- ids: the oldest go. Returns the bytes left, for field db.
local function trimWindow(dk, db)
  local size = call('ZCARD', dk)
  while size > 0 and (size > L.window or db > L.windowBytes) do
    local oldest = call('ZRANGE', dk, 0, 0)[1]
    call('ZREM', dk, oldest)
    db = db - idCost(oldest)
    size = size - 1
  end
  return db
end

-- Data was lost (or rolled back): for a while, sessions not found are reported `lost`, never
-- silently replaced by new ones.
local function markLost(e)
  call('SET', P0 .. e .. ':lost', '1', 'PX', L.lostTtl)
end

local epoch = call('GET', P0 .. 'epoch')
-- Set when this call starts a new epoch: the other nodes hear of it at once (an event of an epoch
-- they do not know makes them check), not only on their next call.
local announce = false
local epochResult
if op == 'epoch' then
  -- After every (re)connection, before anything else: has Redis restarted since the cluster last
  -- checked? ARGV[A] is '1' when the operator promises it persists every write before answering
  -- (appendfsync always); then a restart lost nothing and the epoch stays.
  local lastRun = call('GET', P0 .. 'run')
  local restarted = lastRun ~= run
  if not epoch or (restarted and ARGV[A] ~= '1') then
    -- What the new epoch replaces, for the caller to delete: the keyspace Redis holds (it may be
    -- an older one than the node knew, from a snapshot), else the one the node knew.
    local replaced = epoch or (known ~= '' and known) or false
    epoch = candidate
    call('SET', P0 .. 'epoch', epoch)
    -- Someone had data here: its sessions are gone. A brand-new Redis lost nothing.
    if replaced or lastRun then markLost(epoch) end
    announce = true
    epochResult = { epoch, replaced, restarted and 1 or 0 }
  else
    epochResult = { epoch, false, restarted and 1 or 0 }
  end
  call('SET', P0 .. 'run', run)
elseif not epoch then
  -- The epoch key is gone without a restart (FLUSHALL, FLUSHDB, eviction), and so is the data.
  -- Start a new epoch; the node sees its own candidate come back and knows it started it.
  call('SET', P0 .. 'epoch', candidate)
  call('SET', P0 .. 'run', run)
  markLost(candidate)
  call('PUBLISH', P0 .. 'ev', cjson.encode({ n = node, e = candidate }))
  return redis.status_reply('EPOCH ' .. candidate)
elseif epoch ~= known then
  return redis.status_reply('EPOCH ' .. epoch)
end
local P = P0 .. epoch .. ':'

local counters, counterNames = {}, {}
local function count(name, n)
  if not counters[name] then
    counters[name] = 0
    counterNames[#counterNames + 1] = name
  end
  counters[name] = counters[name] + (n or 1)
end

local states, remoteStates, remoteOrigins = {}, {}, {}
local wakes, wakeOrder = {}, {}
local closed, pressured, patternChanges = {}, {}, {}

local function wake(sid, urgent)
  local current = wakes[sid]
  if current == nil then
    wakeOrder[#wakeOrder + 1] = sid
    wakes[sid] = urgent and 1 or 0
  elseif urgent then
    wakes[sid] = 1
  end
end

local metaCache = {}
local function meta(mid)
  local m = metaCache[mid]
  if m ~= nil then return m end
  local h = call('HMGET', P .. 'm:' .. mid, 'y', 'r', 'c', 'd', 'o', 'w')
  if not h[1] then
    m = false
  else
    m = { bytes = tonumber(h[1]), rel = h[2] == '1', created = tonumber(h[3]), body = h[4], origin = h[5],
      wire = tonumber(h[6] or h[1]) }
  end
  metaCache[mid] = m
  return m
end

local function entryMid(entry)
  return string.match(entry, '^[^|]+')
end

-- Only messages someone listens to ("t…" ids) cost anything here. Their origin is
-- "<node>:<listener key>": the node that holds the listener, and its key there.
local function track(mid, state, id)
  if string.byte(mid, 1) ~= 116 then return end
  local m = meta(mid)
  if not m or not m.origin then return end
  local originNode = string.match(m.origin, '^[^:]+')
  if originNode == node then
    states[#states + 1] = m.origin
    states[#states + 1] = state
    states[#states + 1] = now
    states[#states + 1] = id or 0
  else
    local list = remoteStates[originNode]
    if not list then
      list = {}
      remoteStates[originNode] = list
      remoteOrigins[#remoteOrigins + 1] = originNode
    end
    list[#list + 1] = { m.origin, state, now, id or 0 }
  end
end

local function unref(mid)
  local key = P .. 'm:' .. mid
  if call('HINCRBY', key, 'n', -1) <= 0 then call('DEL', key) end
end

-- A new message's references are set once, after it was routed everywhere it goes.
local function settle(mid, refs)
  if refs <= 0 then
    call('DEL', P .. 'm:' .. mid)
  else
    call('HINCRBY', P .. 'm:' .. mid, 'n', refs)
  end
end

local function discard(mid)
  track(mid, 'discarding')
  track(mid, 'dropped')
  count('discarded')
end

local function removePattern(sid, pattern)
  if call('SREM', P .. 'sub:' .. sid, pattern) == 0 then return end
  local pk = P .. 'pat:' .. pattern
  call('SREM', pk, sid)
  if call('SCARD', pk) == 0 then
    call('SREM', P .. 'patterns', pattern)
    patternChanges[#patternChanges + 1] = { call('INCR', P .. 'patver'), '-', pattern }
  end
end

local function addPattern(sid, pattern)
  if call('SADD', P .. 'sub:' .. sid, pattern) == 0 then return end
  call('SADD', P .. 'pat:' .. pattern, sid)
  if call('SADD', P .. 'patterns', pattern) == 1 then
    local version = call('INCR', P .. 'patver')
    -- A node that has not seen this addition would miss a subscriber: publishes check patadd.
    call('SET', P .. 'patadd', version)
    patternChanges[#patternChanges + 1] = { version, '+', pattern }
  end
end

-- A session's counters live in one field, read and written with one command each: inside a
-- script every Redis call costs a few microseconds, and a take or an admit touches them once per
-- recipient. "n|q|b|tc|uc|kc|o": next id, queued (unsent + unacked) messages and bytes, unacked
-- tail size, urgent lane size, pending acks, owner.
local function loadState(sk)
  local packed = call('HGET', sk, 'st')
  if not packed then return nil end
  local n, q, b, tc, uc, kc, o = string.match(packed, '^(%d+)|(%-?%d+)|(%-?%d+)|(%d+)|(%d+)|(%d+)|(.*)$')
  return {
    n = tonumber(n), q = tonumber(q), b = tonumber(b), tc = tonumber(tc), uc = tonumber(uc), kc = tonumber(kc), o = o,
  }
end

local function saveState(sk, st)
  call('HSET', sk, 'st', st.n .. '|' .. st.q .. '|' .. st.b .. '|' .. st.tc .. '|' .. st.uc .. '|' .. st.kc .. '|' .. st.o)
end

local function closeSession(sid, reason)
  local sk = P .. 's:' .. sid
  local h = call('HMGET', sk, 'a', 'p', 'u', 'c')
  if not h[1] then return false end
  local seen = call('ZSCORE', P .. 'seen', sid)
  -- Nothing is lost silently: every message still owed is reported dropped.
  for _, lane in ipairs({ 'u:', 'n:' }) do
    for _, entry in ipairs(call('LRANGE', P .. lane .. sid, 0, -1)) do
      local mid = entryMid(entry)
      track(mid, 'dropped')
      count('dropped')
      unref(mid)
    end
  end
  for _, member in ipairs(call('ZRANGE', P .. 't:' .. sid, 0, -1)) do
    local mid = entryMid(member)
    track(mid, 'dropped')
    count('dropped')
    unref(mid)
  end
  for _, pattern in ipairs(call('SMEMBERS', P .. 'sub:' .. sid)) do removePattern(sid, pattern) end
  call('DEL', sk, P .. 'u:' .. sid, P .. 'n:' .. sid, P .. 't:' .. sid, P .. 'k:' .. sid, P .. 'd:' .. sid,
    P .. 'sub:' .. sid)
  call('ZREM', P .. 'seen', sid)
  call('HDEL', P .. 'addr', h[1])
  call('HINCRBY', P .. 'protos', h[2], -1)
  call('HSET', P .. 'tomb', sid, reason)
  call('RPUSH', P .. 'tombq', sid)
  if call('LLEN', P .. 'tombq') > L.tombstones then
    local oldest = call('LPOP', P .. 'tombq')
    if oldest ~= sid then call('HDEL', P .. 'tomb', oldest) end
  end
  if reason == 'overflow' then count('overflows') end
  closed[#closed + 1] = { reason, sid, h[1], h[2], h[3] or false, h[4], seen or h[4] }
  return true
end

-- Puts one message into one session's queue, applying the bounds (see Engine in engine.ts).
local function admit(sid, mid, m, urgent, onFull)
  local sk = P .. 's:' .. sid
  local st = loadState(sk)
  if not st then return 'no_session' end
  local q, b = st.q, st.b
  local function over(fraction)
    return q + 1 > L.maxQ * fraction or b + m.bytes > L.maxB * fraction
  end
  if not m.rel and over(L.unrelHW) then
    discard(mid)
    return 'discarded'
  end
  if m.rel and over(1) then
    -- Unreliable messages give way first (seed 001: "unreliable: OK to drop").
    for _, lane in ipairs({ 'n:', 'u:' }) do
      local lk = P .. lane .. sid
      local keep, changed = {}, false
      for _, entry in ipairs(call('LRANGE', lk, 0, -1)) do
        local emid = entryMid(entry)
        local em = meta(emid)
        if em and not em.rel then
          changed = true
          q = q - 1
          b = b - em.bytes
          discard(emid)
          unref(emid)
        else
          keep[#keep + 1] = entry
        end
      end
      if changed then
        call('DEL', lk)
        for i = 1, #keep, 1000 do call('RPUSH', lk, unpack(keep, i, math.min(i + 999, #keep))) end
        if lane == 'u:' then st.uc = #keep end
      end
    end
    st.q = q
    st.b = b
    saveState(sk, st)
    if over(1) then
      if onFull == 'close' then
        closeSession(sid, 'overflow')
        return 'closed'
      end
      return 'full'
    end
  end
  call('RPUSH', P .. (urgent and 'u:' or 'n:') .. sid, mid .. '|' .. now)
  q = q + 1
  b = b + m.bytes
  st.q = q
  st.b = b
  if urgent then st.uc = st.uc + 1 end
  saveState(sk, st)
  track(mid, 'unsent')
  wake(sid, urgent)
  if q > L.maxQ * L.pressHW or b > L.maxB * L.pressHW then pressured[#pressured + 1] = sid end
  return 'queued'
end

-- Reads a message (mid, body, bytes, reliable, urgent, created, origin) from ARGV at i and stores
-- it. The node made the mid: unique for good, so no cache anywhere can hold another message under it.
local function readMessage(i)
  local mid, body, bytes, rel, urgent, created, origin, wire = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]),
      ARGV[i + 3], ARGV[i + 4] == '1', tonumber(ARGV[i + 5]), ARGV[i + 6], tonumber(ARGV[i + 7])
  if origin ~= '' then
    call('HSET', P .. 'm:' .. mid, 'd', body, 'y', bytes, 'w', wire, 'r', rel, 'c', created, 'n', 0, 'o', origin)
  else
    call('HSET', P .. 'm:' .. mid, 'd', body, 'y', bytes, 'w', wire, 'r', rel, 'c', created, 'n', 0)
  end
  local m = { bytes = bytes, wire = wire, rel = rel == '1', created = created, body = body,
    origin = origin ~= '' and origin or false }
  metaCache[mid] = m
  return mid, m, urgent, i + 8
end

local function publish(patterns, except, mid, m, urgent)
  local reached, overflowing = {}, {}
  local matched, queued, discarded = 0, 0, 0
  for _, pattern in ipairs(patterns) do
    for _, sid in ipairs(call('SMEMBERS', P .. 'pat:' .. pattern)) do
      if not reached[sid] and sid ~= except then
        reached[sid] = true
        matched = matched + 1
        local result = admit(sid, mid, m, urgent, 'reject')
        if result == 'queued' then
          queued = queued + 1
        elseif result == 'discarded' then
          discarded = discarded + 1
        elseif result == 'full' then
          overflowing[#overflowing + 1] = sid
        end
      end
    end
  end
  -- Closed after the walk, as the memory engine does.
  for _, sid in ipairs(overflowing) do closeSession(sid, 'overflow') end
  settle(mid, queued)
  return { matched, queued, discarded, #overflowing }
end

local function readPatterns(i)
  local n = tonumber(ARGV[i])
  local patterns = {}
  for k = 1, n do patterns[k] = ARGV[i + k] end
  return patterns, i + n + 1
end

-- Removals need no check (a node that still knows a removed pattern finds its set empty).
local function stalePatterns(known)
  return tonumber(call('GET', P .. 'patadd') or '0') > tonumber(known)
end

local function ackMembers(sid, members, scores)
  local sk = P .. 's:' .. sid
  local st = loadState(sk)
  if not st then return 0 end
  local q, b = st.q, st.b
  for i, member in ipairs(members) do
    local mid = entryMid(member)
    local m = meta(mid)
    q = q - 1
    if m then b = b - m.bytes end
    track(mid, 'delivered', tonumber(scores[i]))
    count('delivered')
    count('acks_in')
    unref(mid)
  end
  -- A take stops at a full unacked tail without `more`: room made there wakes the session so the
  -- messages behind it go out. Any other ack needs no flush.
  local full = st.tc >= L.maxUnacked
  st.q = q
  st.b = b
  st.tc = st.tc - #members
  saveState(sk, st)
  if full and st.q > st.tc then wake(sid, false) end
  return #members
end

local bodies, bodyIndex = {}, {}
local function needBody(mid, m)
  if bodyIndex[mid] then return end
  bodyIndex[mid] = true
  bodies[#bodies + 1] = mid
  bodies[#bodies + 1] = m.body
end

local function take(sid, resendAfter, owner, claim, maxM, maxB)
  local sk = P .. 's:' .. sid
  local st = loadState(sk)
  if not st then
    -- Gone: say why, so the connection still held for it ends with that reason.
    local reason = call('HGET', P .. 'tomb', sid)
    if not reason and call('EXISTS', P .. 'lost') == 1 then reason = 'lost' end
    return { 0, reason or false }
  end
  local changed = false
  if owner ~= '' then
    if claim then
      if st.o ~= owner then
        st.o = owner
        changed = true
      end
    elseif st.o ~= owner then
      return { 2 }
    end
  end
  local nextId, q, b = st.n, st.q, st.b
  local tailSize, urgent = st.tc, st.uc
  local acks, moreAcks = {}, false
  if st.kc > 0 then
    local ak = P .. 'k:' .. sid
    local maxAcks, maxAckBytes = ackBounds()
    local kb = tonumber(call('HGET', sk, 'kb') or '0')
    if st.kc <= maxAcks and kb <= maxAckBytes then
      acks = call('LRANGE', ak, 0, -1)
      call('DEL', ak)
      call('HSET', sk, 'kb', 0)
      st.kc = 0
    else
      -- More than one take's worth (acks given back): the oldest that fit, the rest next time.
      local taken = 0
      for _, id in ipairs(call('LRANGE', ak, 0, maxAcks - 1)) do
        if #acks > 0 and taken + idCost(id) > maxAckBytes then break end
        acks[#acks + 1] = id
        taken = taken + idCost(id)
      end
      call('LTRIM', ak, #acks, -1)
      call('HSET', sk, 'kb', kb - taken)
      st.kc = st.kc - #acks
      moreAcks = true
    end
    changed = true
  end
  local out, n, bytes = {}, 0, 0
  local function fits(size)
    return n < maxM and (n == 0 or bytes + size <= maxB)
  end
  local function deliver(id, mid, m, retry)
    n = n + 1
    bytes = bytes + m.wire
    out[#out + 1] = id
    out[#out + 1] = mid
    out[#out + 1] = retry
    needBody(mid, m)
  end
  local tk = P .. 't:' .. sid
  local resentAll = true
  if resendAfter >= 0 then
    -- Scores are ids: the tail after the last id this connection had (one batch at a time).
    local tail = call('ZRANGEBYSCORE', tk, '(' .. resendAfter, '+inf', 'WITHSCORES')
    for i = 1, #tail, 2 do
      local member, id = tail[i], tonumber(tail[i + 1])
      local mid, attempts = string.match(member, '^([^|]+)|(%d+)|')
      local m = meta(mid)
      if m then
        if not fits(m.wire) then
          resentAll = false
          break
        end
        call('ZREM', tk, member)
        call('ZADD', tk, id, mid .. '|' .. (tonumber(attempts) + 1) .. '|' .. now .. '|r')
        track(mid, 'retrying', id)
        count('retransmits')
        deliver(id, mid, m, 1)
      end
    end
  end
  local more, exhausted, stop = 0, false, false
  if not resentAll then more = 1 end
  local added = {}
  -- Urgent first, then normal; a lane is read in slices of what may still go (plus one, to see
  -- whether the batch limits left something behind), then trimmed once.
  for _, lane in ipairs({ 'u', 'n' }) do
    local lk = P .. lane .. ':' .. sid
    -- Unsent messages are q - tailSize (urgent ones: urgent): an empty lane costs no call.
    while not stop and tailSize < L.maxUnacked and n < maxM and q - tailSize > 0 and (lane == 'n' or urgent > 0) do
      local room = math.min(maxM - n, L.maxUnacked - tailSize) + 1
      local entries = call('LRANGE', lk, 0, room - 1)
      local used = 0
      for _, entry in ipairs(entries) do
        local mid = entryMid(entry)
        local m = meta(mid)
        if m and not fits(m.wire) then
          more = 1
          stop = true
          break
        end
        if nextId > INT32_MAX then
          exhausted = true
          stop = true
          break
        end
        used = used + 1
        if not m then
          q = q - 1 -- its message vanished (should not happen): forget the entry
        else
          local send = true
          if not m.rel then
            q = q - 1
            b = b - m.bytes
            if now - m.created > L.ttl then
              discard(mid)
              unref(mid)
              send = false
            end
          end
          if send then
            local id = nextId
            nextId = nextId + 1
            track(mid, 'sent', id)
            deliver(id, mid, m, 0)
            if m.rel then
              added[#added + 1] = id
              added[#added + 1] = mid .. '|1|' .. now .. '|s'
              tailSize = tailSize + 1
            else
              unref(mid)
            end
          end
        end
        -- A full unacked tail stops new sends without `more`: acks make room and wake the session.
        if tailSize >= L.maxUnacked then
          stop = true
          break
        end
      end
      if used > 0 then call('LTRIM', lk, used, -1) end
      if lane == 'u' then urgent = urgent - used end
      if #entries < room then break end
    end
    if stop then break end
  end
  for i = 1, #added, 1000 do call('ZADD', tk, unpack(added, i, math.min(i + 999, #added))) end
  if changed or nextId ~= st.n or q ~= st.q or b ~= st.b or tailSize ~= st.tc or urgent ~= st.uc then
    st.n, st.q, st.b, st.tc, st.uc = nextId, q, b, tailSize, urgent
    saveState(sk, st)
  end
  if exhausted and n == 0 then closeSession(sid, 'sequence_exhausted') end
  -- Ids ran out behind what this batch carries: take again at once, which ends the session.
  if exhausted or moreAcks then more = 1 end
  return { 1, acks, out, more }
end

local function openSession(sid, address, protocol, user)
  local sk = P .. 's:' .. sid
  if call('EXISTS', sk) == 1 then return redis.error_reply('SB_ERR_BAD_REQUEST session ' .. sid .. ' is already open') end
  if call('ZCARD', P .. 'seen') >= L.maxSessions then
    return redis.error_reply('SB_ERR_TOO_MANY_SESSIONS the engine holds its maximum of ' .. L.maxSessions .. ' sessions')
  end
  if call('HSETNX', P .. 'addr', address, sid) == 0 then
    return redis.error_reply('SB_ERR_BAD_REQUEST address ' .. address .. ' is taken')
  end
  if user then
    call('HSET', sk, 'a', address, 'p', protocol, 'u', user, 'c', now, 'ds', 0, 'st', '1|0|0|0|0|0|')
  else
    call('HSET', sk, 'a', address, 'p', protocol, 'c', now, 'ds', 0, 'st', '1|0|0|0|0|0|')
  end
  call('ZADD', P .. 'seen', now, sid)
  call('HINCRBY', P .. 'protos', protocol, 1)
  call('HDEL', P .. 'tomb', sid)
  return { sid, address, protocol, user or false, now, now }
end

-- Below, "ARGV:" lists each operation's own arguments, from ARGV[A] on.
local result
if op == 'take' then
  -- ARGV: maxMessages, maxBytes, count, then per request: sid, resend (the id after which to send
  -- the unacked tail again, or -1 for none), owner, claim
  local maxM, maxB, n = tonumber(ARGV[A]), tonumber(ARGV[A + 1]), tonumber(ARGV[A + 2])
  local batches = {}
  for k = 0, n - 1 do
    local i = A + 3 + k * 4
    batches[k + 1] = take(ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3] == '1', maxM, maxB)
  end
  result = { batches, bodies }
elseif op == 'publish' then
  -- ARGV: pattern version, except, patterns (count first), message
  if stalePatterns(ARGV[A]) then
    result = 'stale'
  else
    local patterns, i = readPatterns(A + 2)
    local mid, m, urgent = readMessage(i)
    result = publish(patterns, ARGV[A + 1], mid, m, urgent)
  end
elseif op == 'enqueue' then
  -- ARGV: sid, onFull, message
  local mid, m, urgent = readMessage(A + 2)
  local outcome = admit(ARGV[A], mid, m, urgent, ARGV[A + 1])
  settle(mid, outcome == 'queued' and 1 or 0)
  result = outcome
elseif op == 'receive' then
  -- ARGV: sid, pattern version, count, then per message: client id, kind, and the kind's fields
  local sid = ARGV[A]
  local sk = P .. 's:' .. sid
  if call('EXISTS', sk) == 0 then
    return redis.error_reply('SB_ERR_NO_SESSION no open session ' .. sid)
  end
  local n = tonumber(ARGV[A + 2])
  local hasPublish = false
  local messages, i = {}, A + 3
  for k = 1, n do
    local msg = { id = ARGV[i], kind = ARGV[i + 1] }
    i = i + 2
    if msg.kind == 'publish' then
      hasPublish = true
      msg.path = ARGV[i]
      msg.patterns, i = readPatterns(i + 1)
      msg.at = i
      i = i + 8
    elseif msg.kind == 'direct' then
      msg.to = ARGV[i]
      msg.at = i + 1
      i = i + 9
    elseif msg.kind == 'subscribe' or msg.kind == 'unsubscribe' then
      msg.patterns, i = readPatterns(i)
    end
    messages[k] = msg
  end
  if hasPublish and stalePatterns(ARGV[A + 1]) then
    result = 'stale'
  else
    -- Decide duplicates and check subscription limits before writing anything.
    local dk = P .. 'd:' .. sid
    -- As the memory engine does: the subscription check looks at every message the window does
    -- not know; a duplicate within the request is decided afterwards, among the messages not refused.
    local known, inRequest, fresh = {}, {}, {}
    local subs, subCount, checkSubs = nil, 0, false
    for k, msg in ipairs(messages) do
      known[k] = call('ZSCORE', dk, msg.id) ~= false
      if not known[k] and msg.kind == 'subscribe' then checkSubs = true end
    end
    -- A subscribe past the limit is refused alone (answer 2): not recorded, not acked.
    local refused = {}
    if checkSubs then
      subs = {}
      for _, p in ipairs(call('SMEMBERS', P .. 'sub:' .. sid)) do
        subs[p] = true
        subCount = subCount + 1
      end
      for k, msg in ipairs(messages) do
        if not known[k] and msg.kind == 'unsubscribe' then
          for _, p in ipairs(msg.patterns) do
            if subs[p] then
              subs[p] = nil
              subCount = subCount - 1
            end
          end
        elseif not known[k] and msg.kind == 'subscribe' then
          local added, addedCount = {}, 0
          for _, p in ipairs(msg.patterns) do
            if not subs[p] and not added[p] then
              added[p] = true
              addedCount = addedCount + 1
            end
          end
          if subCount + addedCount > L.maxSubs then
            refused[k] = true
          else
            for p in pairs(added) do subs[p] = true end
            subCount = subCount + addedCount
          end
        end
      end
    end
    local ak = P .. 'k:' .. sid
    local answer = {}
    local ackBytes, dedupeBytes = 0, 0
    local maxAcks, maxAckBytes = ackBounds()
    local heldAcks = call('LLEN', ak)
    local heldAckBytes = tonumber(call('HGET', sk, 'kb') or '0')
    for k, msg in ipairs(messages) do
      local cost = idCost(msg.id)
      if refused[k] then
        answer[k] = 2
      elseif heldAcks > 0 and (heldAcks >= maxAcks or heldAckBytes + cost > maxAckBytes) then
        -- No room for its ack: refused (answer 3), not recorded; its client sends it again.
        answer[k] = 3
      else
      fresh[k] = not known[k] and not inRequest[msg.id]
      inRequest[msg.id] = true
      call('RPUSH', ak, msg.id)
      heldAcks = heldAcks + 1
      heldAckBytes = heldAckBytes + cost
      ackBytes = ackBytes + cost
      -- New or acked again: the window's most recent id.
      call('ZADD', dk, call('HINCRBY', sk, 'ds', 1), msg.id)
      if not fresh[k] then
        count('duplicates')
        answer[k] = 0
      else
        answer[k] = 1
        dedupeBytes = dedupeBytes + cost
        if msg.kind == 'publish' then
          local mid, m, urgent = readMessage(msg.at)
          publish(msg.patterns, sid, mid, m, urgent)
        elseif msg.kind == 'direct' then
          local mid, m, urgent = readMessage(msg.at)
          local outcome = admit(msg.to, mid, m, urgent, 'close')
          settle(mid, outcome == 'queued' and 1 or 0)
        elseif msg.kind == 'subscribe' then
          for _, p in ipairs(msg.patterns) do addPattern(sid, p) end
        elseif msg.kind == 'unsubscribe' then
          for _, p in ipairs(msg.patterns) do removePattern(sid, p) end
        end
      end
      end
    end
    local db = trimWindow(dk, tonumber(call('HGET', sk, 'db') or '0') + dedupeBytes)
    -- Read again: routing may have queued to this very session (a direct message to itself).
    local st = loadState(sk)
    if st then
      call('HSET', sk, 'db', db)
      call('HINCRBY', sk, 'kb', ackBytes)
      st.kc = call('LLEN', ak)
      saveState(sk, st)
      if n > 0 then wake(sid, false) end
    end
    result = answer
  end
elseif op == 'requeueAcks' then
  -- ARGV: sid, then the acks in order
  local sid = ARGV[A]
  local sk = P .. 's:' .. sid
  local st = loadState(sk)
  if st then
    local ak = P .. 'k:' .. sid
    local dk = P .. 'd:' .. sid
    local added, remembered = 0, 0
    -- Behind the pending acks, and remembered as recent again (see ackBounds).
    for i = A + 1, #ARGV do
      call('RPUSH', ak, ARGV[i])
      added = added + idCost(ARGV[i])
      if call('ZADD', dk, call('HINCRBY', sk, 'ds', 1), ARGV[i]) == 1 then
        remembered = remembered + idCost(ARGV[i])
      end
    end
    call('HINCRBY', sk, 'kb', added)
    call('HSET', sk, 'db', trimWindow(dk, tonumber(call('HGET', sk, 'db') or '0') + remembered))
    st.kc = call('LLEN', ak)
    saveState(sk, st)
    wake(sid, false)
  end
  result = 0
elseif op == 'ack' then
  -- ARGV: sid, then the message ids
  local sid = ARGV[A]
  local tk = P .. 't:' .. sid
  local members, scores = {}, {}
  for i = A + 1, #ARGV do
    local found = call('ZRANGEBYSCORE', tk, ARGV[i], ARGV[i])
    if #found > 0 then
      call('ZREMRANGEBYSCORE', tk, ARGV[i], ARGV[i])
      members[#members + 1] = found[1]
      scores[#scores + 1] = ARGV[i]
    end
  end
  result = #members > 0 and ackMembers(sid, members, scores) or 0
elseif op == 'ackUpTo' then
  local sid, upTo = ARGV[A], ARGV[A + 1]
  local tk = P .. 't:' .. sid
  local found = call('ZRANGEBYSCORE', tk, '-inf', upTo, 'WITHSCORES')
  local members, scores = {}, {}
  for i = 1, #found, 2 do
    members[#members + 1] = found[i]
    scores[#scores + 1] = found[i + 1]
  end
  if #members > 0 then call('ZREMRANGEBYSCORE', tk, '-inf', upTo) end
  result = #members > 0 and ackMembers(sid, members, scores) or 0
elseif op == 'subscribe' then
  -- ARGV: sid, then the patterns
  local sid = ARGV[A]
  local sk = P .. 's:' .. sid
  if call('EXISTS', sk) == 0 then return redis.error_reply('SB_ERR_NO_SESSION no open session ' .. sid) end
  local added = 0
  local seenHere = {}
  for i = A + 1, #ARGV do
    if not seenHere[ARGV[i]] and call('SISMEMBER', P .. 'sub:' .. sid, ARGV[i]) == 0 then added = added + 1 end
    seenHere[ARGV[i]] = true
  end
  if call('SCARD', P .. 'sub:' .. sid) + added > L.maxSubs then
    return redis.error_reply('SB_ERR_TOO_MANY_SUBSCRIPTIONS a session may hold at most ' .. L.maxSubs .. ' subscriptions')
  end
  for i = A + 1, #ARGV do addPattern(sid, ARGV[i]) end
  result = added
elseif op == 'unsubscribe' then
  local sid = ARGV[A]
  if call('EXISTS', P .. 's:' .. sid) == 0 then return redis.error_reply('SB_ERR_NO_SESSION no open session ' .. sid) end
  for i = A + 1, #ARGV do removePattern(sid, ARGV[i]) end
  result = 0
elseif op == 'open' then
  -- ARGV: sid, address, protocol, user, and whether there is one ('1'/'0')
  local user = ARGV[A + 4] == '1' and ARGV[A + 3] or nil
  local opened = openSession(ARGV[A], ARGV[A + 1], ARGV[A + 2], user)
  if opened.err then return opened end
  result = opened
elseif op == 'get' then
  -- ARGV: sid, the connection claiming the session ('' for none), its user and whether it has
  -- one ('1'/'0'), its client instance and request order ('')
  local sid = ARGV[A]
  local h = call('HMGET', P .. 's:' .. sid, 'a', 'p', 'u', 'c')
  local stale = false
  if h[1] then
    -- A session opened by a user is claimed only by that user (see Claim).
    local claimUser = ARGV[A + 3] == '1' and ARGV[A + 2] or nil
    if ARGV[A + 1] ~= '' and (not h[3] or h[3] == claimUser) then
      local sk = P .. 's:' .. sid
      local instance, seq = ARGV[A + 4], tonumber(ARGV[A + 5])
      if instance ~= '' and seq then
        -- An older request of the same client instance, arriving late, does not claim (see Claim).
        local last = call('HMGET', sk, 'ci', 'cs')
        stale = last[1] == instance and tonumber(last[2]) >= seq
        if not stale then call('HSET', sk, 'ci', instance, 'cs', seq) end
      else
        call('HDEL', sk, 'ci', 'cs')
      end
      if not stale then
        local st = loadState(sk)
        st.o = ARGV[A + 1]
        saveState(sk, st)
      end
    end
    result = { 'open', sid, h[1], h[2], h[3] or false, h[4], call('ZSCORE', P .. 'seen', sid) or h[4],
      stale and 1 or 0 }
  else
    local reason = call('HGET', P .. 'tomb', sid)
    if reason then
      result = { 'closed', reason }
    elseif call('EXISTS', P .. 'lost') == 1 then
      result = { 'closed', 'lost' }
    else
      result = { 'unknown' }
    end
  end
elseif op == 'epoch' then
  -- Resolved at the top: {current epoch, the epoch it replaced or false, 1 if Redis restarted}
  result = epochResult
elseif op == 'close' then
  -- ARGV: sid, reason
  result = closeSession(ARGV[A], ARGV[A + 1]) and 1 or 0
elseif op == 'touch' then
  -- ARGV: the sids
  for i = A, #ARGV do call('ZADD', P .. 'seen', 'XX', now, ARGV[i]) end
  result = 0
elseif op == 'sweep' then
  -- ARGV: cutoff, limit
  local due = call('ZRANGEBYSCORE', P .. 'seen', '-inf', ARGV[A], 'LIMIT', 0, ARGV[A + 1])
  for _, sid in ipairs(due) do closeSession(sid, 'inactive') end
  result = #due
elseif op == 'patterns' then
  result = { call('GET', P .. 'patver') or '0', call('SMEMBERS', P .. 'patterns') }
elseif op == 'inspect' then
  local sid = ARGV[A]
  local st = loadState(P .. 's:' .. sid)
  local h = st and { st.n, st.b } or {}
  if not st then
    result = false
  else
    local unsent = {}
    for _, lane in ipairs({ 'u:', 'n:' }) do
      for _, entry in ipairs(call('LRANGE', P .. lane .. sid, 0, -1)) do
        local mid, at = string.match(entry, '^([^|]+)|(%d+)')
        local m = meta(mid)
        if m then
          needBody(mid, m)
          unsent[#unsent + 1] = entry
        end
      end
    end
    local tail = call('ZRANGE', P .. 't:' .. sid, 0, -1, 'WITHSCORES')
    for i = 1, #tail, 2 do
      local m = meta(entryMid(tail[i]))
      if m then needBody(entryMid(tail[i]), m) end
    end
    result = { h[1], h[2], unsent, tail, bodies }
  end
else
  return redis.error_reply('SB_ERR_INTERNAL unknown engine operation ' .. tostring(op))
end

local wakeFlat = {}
local urgentIds, normalIds = {}, {}
for _, sid in ipairs(wakeOrder) do
  wakeFlat[#wakeFlat + 1] = sid
  wakeFlat[#wakeFlat + 1] = wakes[sid]
  if wakes[sid] == 1 then urgentIds[#urgentIds + 1] = sid else normalIds[#normalIds + 1] = sid end
end
local counterFlat = {}
for _, name in ipairs(counterNames) do
  counterFlat[#counterFlat + 1] = name
  counterFlat[#counterFlat + 1] = counters[name]
end
local closedFlat = {}
for _, c in ipairs(closed) do
  for _, v in ipairs({ 1, 2, 3, 4, 5, 6, 7 }) do closedFlat[#closedFlat + 1] = c[v] end
end

if announce or #wakeOrder > 0 or #closed > 0 or #remoteOrigins > 0 or #patternChanges > 0 or #pressured > 0 then
  -- The epoch: a node that has not adopted it yet learns of it here; one that left it ignores it.
  local event = { n = node, e = epoch }
  if #urgentIds > 0 then event.u = urgentIds end
  if #normalIds > 0 then event.w = normalIds end
  if #pressured > 0 then event.p = pressured end
  if #closed > 0 then
    local list = {}
    for _, c in ipairs(closed) do list[#list + 1] = { c[2], c[1] } end
    event.c = list
  end
  if #remoteOrigins > 0 then
    local s = {}
    for _, origin in ipairs(remoteOrigins) do s[origin] = remoteStates[origin] end
    event.s = s
  end
  if #patternChanges > 0 then event.v = patternChanges end
  call('PUBLISH', P0 .. 'ev', cjson.encode(event))
end

local changesFlat = {}
for _, c in ipairs(patternChanges) do
  changesFlat[#changesFlat + 1] = c[1]
  changesFlat[#changesFlat + 1] = c[2]
  changesFlat[#changesFlat + 1] = c[3]
end

return { result, counterFlat, states, wakeFlat, closedFlat, pressured, changesFlat }
