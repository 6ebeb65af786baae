"""The shared ledger's one Lua script (``cluster/shared_ledger.py``): every operation on one
account's concurrency in one round trip, atomically.

The same decision as placement/ledger.py's ``decide``, in the same order, over state in Redis.

KEYS (one scope's, one hash slot):
  1 all        sorted set: holder => lease expiry (ms)      every lease of the account
  2 unres      set: holders of functions without a reservation
  3 of         hash: holder => its function
  4 reserved   hash: function => reserved concurrency
  5 total      string: the sum of ``reserved``
  6 buckets    hash: function => "tokens stamp_ms" (absent: a full bucket)
and, per function, the set ``<fn-set prefix><function>`` of its holders: a key the script
names from the prefix (there are as many as functions, so they cannot all be declared), in
the same hash tag as KEYS, so in the same Redis Cluster slot.
ARGV: op, now_ms ('' : Redis's TIME), ttl_ms, fn-set prefix, then per op:
  acquire  function holder account_limit scaling_rate window_ms cold(0/1) force(0/1) [release holders...]
  release  holders...
  refresh  holders...                      (their leases expire ttl_ms from now)
  reserve  function reserved ('' : none)
  count    [function]                      -> {total, of function}
acquire answers {1} (granted) or {0, reason, retry_after_s}; reason A: account, R: reserved,
S: scaling rate.
"""

SCRIPT = """
local op = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ttl = tonumber(ARGV[3])
local prefix = ARGV[4]

local function drop(holder)
  local fn = redis.call('HGET', KEYS[3], holder)
  redis.call('ZREM', KEYS[1], holder)
  redis.call('SREM', KEYS[2], holder)
  if fn then
    redis.call('SREM', prefix .. fn, holder)
    redis.call('HDEL', KEYS[3], holder)
  end
end

local function prune()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, 100)
  for _, holder in ipairs(expired) do drop(holder) end
end

if op == 'release' then
  for i = 5, #ARGV do drop(ARGV[i]) end
  return #ARGV - 4
end

if op == 'refresh' then
  local kept = 0
  for i = 5, #ARGV do
    kept = kept + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, ARGV[i])
  end
  return kept
end

if op == 'count' then
  prune()
  local of_fn = 0
  if ARGV[5] then of_fn = redis.call('SCARD', prefix .. ARGV[5]) end
  return {redis.call('ZCARD', KEYS[1]), of_fn}
end

if op == 'reserve' then
  local fn, value = ARGV[5], ARGV[6]
  local previous = redis.call('HGET', KEYS[4], fn)
  local holders = redis.call('SMEMBERS', prefix .. fn)
  -- the total first: a script stopped by an error keeps what it wrote before, so the one write
  -- that can fail (a total that is not an integer) comes before any other. A difference of
  -- two integers is never Lua's -0 (which Redis refuses as an integer), unlike a negation.
  local delta = (tonumber(value) or 0) - (tonumber(previous) or 0)
  redis.call('INCRBY', KEYS[5], delta)
  if not previous then
    for _, holder in ipairs(holders) do redis.call('SREM', KEYS[2], holder) end
  end
  if value == '' then
    redis.call('HDEL', KEYS[4], fn)
    for _, holder in ipairs(holders) do redis.call('SADD', KEYS[2], holder) end
  else
    redis.call('HSET', KEYS[4], fn, value)
  end
  return 1
end

-- acquire
local fn, holder = ARGV[5], ARGV[6]
local account_limit, rate, window = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local cold, force = ARGV[10] == '1', ARGV[11] == '1'
for i = 12, #ARGV do drop(ARGV[i]) end
prune()
local fn_set = prefix .. fn
local reservation = redis.call('HGET', KEYS[4], fn)
local bucket = nil
if not force then
  if reservation then
    if redis.call('SCARD', fn_set) >= tonumber(reservation) then return {0, 'R', 1} end
  else
    local unreserved_limit = math.max(0, account_limit - tonumber(redis.call('GET', KEYS[5]) or '0'))
    if redis.call('SCARD', KEYS[2]) >= unreserved_limit then return {0, 'A', 1} end
  end
  if redis.call('ZCARD', KEYS[1]) >= account_limit then return {0, 'A', 1} end
  if cold then
    local tokens = rate
    local stored = redis.call('HGET', KEYS[6], fn)
    if stored then
      local left, stamp = string.match(stored, '^(%S+) (%S+)$')
      local refill = math.max(0, now - tonumber(stamp)) * rate / window
      tokens = math.min(rate, tonumber(left) + refill)
    end
    if tokens < 1 then
      local wait_s = (1 - tokens) * window / rate / 1000
      return {0, 'S', math.max(1, math.ceil(wait_s))}
    end
    bucket = string.format('%.17g %d', tokens - 1, now)
  end
end
if bucket then redis.call('HSET', KEYS[6], fn, bucket) end
redis.call('ZADD', KEYS[1], now + ttl, holder)
redis.call('SADD', fn_set, holder)
redis.call('HSET', KEYS[3], holder, fn)
if not reservation then redis.call('SADD', KEYS[2], holder) end
return {1}
"""
