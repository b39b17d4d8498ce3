-- Admission and enqueue of one frame, atomically: `decideAdmission` (src/admission.ts) check for
-- check, in the same order, then the enqueue. Changes nothing unless the frame is admitted.
-- KEYS and ARGV are named in src/transport-scripts.ts.
-- Returns {'admitted', 0} or {refusal, retryAfterMs}: 'no-worker', 'over-rate', 'over-share',
-- 'backlog-full', 'bytes-full'.
local stream, open, tenants, bytesKey, rateKey, workersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, maxQueue, maxLen, meta, image = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local now, expiry, tenant, member = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local tenantMaxQueue, maxBytes, bytes = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local rate, liveSince, cost = tonumber(ARGV[13]), ARGV[14], tonumber(ARGV[15])

local function extend(key, at)
  if redis.call('PEXPIRETIME', key) < tonumber(at) then redis.call('PEXPIREAT', key, at) end
end

-- 1. A worker serves the model: otherwise the frame could only wait out its deadline.
if redis.call('ZCOUNT', workersKey, liveSince, '+inf') == 0 then return {'no-worker', 0} end

-- 2. The tenant's rate, in cost units per second (a bucket of one second).
local burst = math.max(1, rate)
local charge = math.min(cost, burst)
local bucket = redis.call('HMGET', rateKey, 't', 'ts')
local tokens = burst
if bucket[1] then
  tokens = math.min(burst, tonumber(bucket[1]) + math.max(0, now - tonumber(bucket[2])) * rate / 1000)
end
if tokens < charge then return {'over-rate', math.ceil((charge - tokens) * 1000 / rate)} end

-- 3. Fair share: cost units open (admitted and not finished) per tenant. Members are
-- '<cost>:<frame key>'; they leave when the frame is finished, or by themselves at their expiry.
redis.call('ZREMRANGEBYSCORE', open, '-inf', now)
redis.call('ZREMRANGEBYSCORE', tenants, '-inf', now)
local mine = 0
for _, m in ipairs(redis.call('ZRANGE', open, 0, -1)) do mine = mine + tonumber(string.match(m, '^(%d+):')) end
local active = redis.call('ZCARD', tenants)
if mine == 0 then active = active + 1 end
local share = math.min(tenantMaxQueue, math.max(1, math.floor(maxQueue / active)))
if mine > 0 and mine + cost > share then return {'over-share', 0} end

-- 4. The backlog: the group's lag (frames not yet delivered to any worker). Redis reports nil lag
-- when it cannot tell; then the stream's length (waiting + pending) stands in.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
local found = false
if ok then
  for _, g in ipairs(groups) do
    local name, lag
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'lag' then lag = g[i + 1] end
    end
    if name == group then
      found = true
      if not lag then lag = redis.call('XLEN', stream) end
      if tonumber(lag) >= maxQueue then return {'backlog-full', 0} end
    end
  end
end

-- 5. The byte budget of admitted frames.
local waiting = tonumber(redis.call('GET', bytesKey) or '0')
if waiting + bytes > maxBytes then return {'bytes-full', 0} end

-- Admitted. Redis lost the group (restart without persistence): recreate it from '$' so nothing
-- older replays.
if not found then redis.call('XGROUP', 'CREATE', stream, group, '$', 'MKSTREAM') end
redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', 'm', meta, 'img', image)
redis.call('ZADD', open, expiry, member)
extend(open, expiry)
redis.call('ZADD', tenants, 'GT', expiry, tenant)
extend(tenants, expiry)
redis.call('INCRBY', bytesKey, bytes)
redis.call('HSET', rateKey, 't', tokens - charge, 'ts', now)
redis.call('PEXPIRE', rateKey, math.ceil(burst * 1000 / rate) + 1000)
return {'admitted', 0}
