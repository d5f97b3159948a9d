/// The one Lua script that commits a batch (`WindowStore.commit`): conditional, all or nothing, and
/// unable to fail half way.
///
/// - **Conditional.** Every checkpoint the batch moves must still hold the text this process read
///   (or last wrote). All of them already at their new text means the commit landed before (a reply
///   lost with a broken connection): nothing is applied again. Anything else is a conflict: another
///   process moved one of these files. So a late or repeated commit, a commit from a connection that
///   timed out, or two processes on one file can never count a line twice.
/// - **Nothing half applied.** Redis keeps the writes of a script that fails mid-way, so every way to
///   fail is ruled out before the first write: each key's type is checked (a key of another type, or
///   a string that is not a HyperLogLog, refuses the commit and names the key), increments that would
///   pass Int64 saturate instead of failing, and the first write is an idempotent PFADD (Redis refuses
///   a script's first write when it is out of memory, and then nothing else was written).
///
/// KEYS[1] is the host's checkpoint hash, KEYS[2] its ingest counters; the others are named by index
/// from ARGV. ARGV: the number of checkpoint changes, then (field, expected, new) triples ("" is
/// none); the number of marker fields, then (field, value) pairs written to KEYS[1] unconditionally
/// ("" deletes); the TTL of KEYS[1] and KEYS[2]; then operations, each `op, key index, n, params...,
/// items...`:
///
/// | op | params | items (n of them) | effect |
/// |---|---|---|---|
/// | `u` | expire-at | member | PFADD (users of an hour), EXPIREAT |
/// | `h` | expire-at | field, delta | saturating HINCRBY (a bucket), EXPIREAT |
/// | `e` | expire-at, cap | message, delta | HINCRBY; a message new past `cap` distinct ones goes to field "" (the others) |
/// | `s` | expire-at | member | SADD (models of an hour), EXPIREAT |
/// | `z` | ttl, cutoff | member, score | the greater score is kept (last seen); members under cutoff removed; EXPIRE |
/// | `r` | ttl, delta, saw-success, trailing, last-ms | - | a model's run of failures (WindowStore.commands) |
/// | `c` | - | field, delta | saturating HINCRBY of KEYS[2] (ingest counters) |
///
/// Every commit applied raises the host's commit sequence, field `~seq` of KEYS[1]: after a failover
/// to a replica that missed the last commits, Redis's sequence is behind the one this process last
/// got, and ingest reads those lines again from Redis's checkpoints.
///
/// Returns `{"ok", saturated, repaired, seq, n1, ended1, n2, ended2...}` (one pair per `r`, in
/// order), `{"landed", seq}`, `{"conflict", field, found}`, or `{"refused", key, reason}`.
enum CommitScript {
    static let source = #"""
local ck, counters = KEYS[1], KEYS[2]
local a = 1
-- 1. The condition.
local nc = tonumber(ARGV[a]); a = a + 1
local changes = a
local atOld, atNew = 0, 0
for _ = 1, nc do
  local cur = redis.call('HGET', ck, ARGV[a]) or ''
  if cur == ARGV[a + 1] then atOld = atOld + 1
  elseif cur == ARGV[a + 2] then atNew = atNew + 1
  else return {'conflict', ARGV[a], cur} end
  a = a + 3
end
if nc > 0 and atNew == nc then return {'landed', tonumber(redis.call('HGET', ck, '~seq') or '') or 0} end
if atNew > 0 then return {'conflict', '', 'partly applied'} end
local nm = tonumber(ARGV[a]); a = a + 1
local markers = a
a = a + 2 * nm
local ttl = ARGV[a]; a = a + 1
local first = a

local params = {u = 1, h = 1, e = 2, s = 1, z = 2, r = 5, c = 0}
local width = {u = 1, h = 2, e = 2, s = 1, z = 2, r = 0, c = 2}
local wanted = {u = 'string', h = 'hash', e = 'hash', s = 'set', z = 'zset', r = 'hash', c = 'hash'}
local function each(visit)
  local i = first
  while i <= #ARGV do
    local op = ARGV[i]
    local key = KEYS[tonumber(ARGV[i + 1])]
    local n = tonumber(ARGV[i + 2])
    local p = i + 3
    local r = visit(op, key, n, p, p + params[op])
    if r then return r end
    i = p + params[op] + n * width[op]
  end
end

-- 2. Nothing can fail half way: check every key before the first write.
for _, k in ipairs({ck, counters}) do
  local t = redis.call('TYPE', k).ok
  if t ~= 'none' and t ~= 'hash' then return {'refused', k, 'is a ' .. t .. ', not a hash'} end
end
local refused = each(function(op, key)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= wanted[op] then return {'refused', key, 'is a ' .. t .. ', not a ' .. wanted[op]} end
  if op == 'u' and t == 'string' and redis.call('GETRANGE', key, 0, 3) ~= 'HYLL' then
    return {'refused', key, 'is a string that is not a HyperLogLog'}
  end
end)
if refused then return refused end

local saturated, repaired = 0, 0
-- An increment past Int64 holds the field at the edge; a field that holds no integer is replaced.
local function incr(key, field, delta)
  local r = redis.pcall('HINCRBY', key, field, delta)
  if type(r) == 'number' then return r end
  if string.find(r.err, 'overflow') then
    saturated = saturated + 1
    local edge = tonumber(delta) > 0 and '9223372036854775807' or '-9223372036854775808'
    redis.call('HSET', key, field, edge)
    return tonumber(edge)
  end
  repaired = repaired + 1
  redis.call('HSET', key, field, delta)
  return tonumber(delta)
end
local function chunks(cmd, key, from, n)
  for s = 0, n - 1, 1000 do
    redis.call(cmd, key, unpack(ARGV, from + s, from + math.min(n, s + 1000) - 1))
  end
end

-- 3. Apply. Idempotent PFADDs first: if Redis refuses one, nothing else was written.
local failed = each(function(op, key, n, p, items)
  if op == 'u' then
    local ok = redis.pcall('PFADD', key, unpack(ARGV, items, items + math.min(n, 1000) - 1))
    if type(ok) == 'table' and ok.err then return {'refused', key, ok.err} end
    if n > 1000 then chunks('PFADD', key, items + 1000, n - 1000) end
    redis.call('EXPIREAT', key, ARGV[p])
  end
end)
if failed then return failed end
for i = changes, changes + 3 * (nc - 1), 3 do
  if ARGV[i + 2] == '' then redis.call('HDEL', ck, ARGV[i]) else redis.call('HSET', ck, ARGV[i], ARGV[i + 2]) end
end
for i = markers, markers + 2 * (nm - 1), 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', ck, ARGV[i]) else redis.call('HSET', ck, ARGV[i], ARGV[i + 1]) end
end
-- The host's commit sequence: a Redis that lost commits (a failover) is seen behind it.
local seq = (tonumber(redis.call('HGET', ck, '~seq') or '') or 0) + 1
redis.call('HSET', ck, '~seq', seq)
redis.call('EXPIRE', ck, ttl)
local runs = {}
each(function(op, key, n, p, items)
  if op == 'h' or op == 'e' or op == 'c' then
    local cap = op == 'e' and tonumber(ARGV[p + 1]) or nil
    for i = items, items + 2 * (n - 1), 2 do
      local field = ARGV[i]
      if cap and redis.call('HEXISTS', key, field) == 0
          and redis.call('HLEN', key) - redis.call('HEXISTS', key, '') >= cap then field = '' end
      incr(key, field, ARGV[i + 1])
    end
    if op == 'c' then redis.call('EXPIRE', key, ttl) else redis.call('EXPIREAT', key, ARGV[p]) end
  elseif op == 's' then
    chunks('SADD', key, items, n)
    redis.call('EXPIREAT', key, ARGV[p])
  elseif op == 'z' then
    for i = items, items + 2 * (n - 1), 2 do
      local cur = redis.call('ZSCORE', key, ARGV[i])
      if not cur or tonumber(cur) < tonumber(ARGV[i + 1]) then redis.call('ZADD', key, ARGV[i + 1], ARGV[i]) end
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[p + 1])
    if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ARGV[p]) end
  elseif op == 'r' then
    local length = incr(key, 'n', ARGV[p + 1])
    local ended = 0
    if ARGV[p + 2] == '1' then
      ended = incr(key, 'ended', 1)
      redis.call('HSET', key, 'n', ARGV[p + 3])
    end
    if ARGV[p + 4] ~= '' then
      local last = tonumber(redis.call('HGET', key, 'last') or '')
      if not last or last < tonumber(ARGV[p + 4]) then redis.call('HSET', key, 'last', ARGV[p + 4]) end
    end
    redis.call('EXPIRE', key, ARGV[p])
    runs[#runs + 1] = length
    runs[#runs + 1] = ended
  end
end)
if saturated > 0 then incr(counters, 'saturated', saturated) end
if repaired > 0 then incr(counters, 'repaired', repaired) end
if saturated + repaired > 0 then redis.call('EXPIRE', counters, ttl) end
local reply = {'ok', saturated, repaired, seq}
for _, v in ipairs(runs) do reply[#reply + 1] = v end
return reply
"""#
}
