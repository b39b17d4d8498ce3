-- Admission and enqueue of one frame, atomically. Checks everything first and changes nothing
-- unless the frame is admitted.
-- KEYS: 1 frame stream, 2 the tenant's open frames (zset frame key -> expiry ms),
--       3 active tenants (zset tenant -> expiry ms), 4 bytes in the stream (counter),
--       5 the tenant's frame-rate bucket (hash), 6 workers (zset worker id -> last heartbeat ms)
-- ARGV: 1 group, 2 MAX_QUEUE, 3 stream MAXLEN, 4 meta JSON, 5 image, 6 now ms, 7 expiry ms,
--       8 tenant, 9 frame key, 10 TENANT_MAX_QUEUE, 11 MAX_QUEUE_BYTES, 12 image bytes,
--       13 tenant frames/s, 14 bucket capacity, 15 oldest heartbeat that counts (ms)
-- Returns {1, 0} admitted; {0, 0} backlog full; {-2, 0} tenant over its share;
--         {-3, retryAfterMs} tenant over its frame rate; {-4, 0} byte budget full;
--         {-5, 0} no worker has reported in (the frame could only wait out its deadline).
local now = tonumber(ARGV[6])
if redis.call('ZCOUNT', KEYS[6], ARGV[15], '+inf') == 0 then return {-5, 0} end
local function extend(key, at)
  if redis.call('PEXPIRETIME', key) < tonumber(at) then redis.call('PEXPIREAT', key, at) end
end

local rate, burst = tonumber(ARGV[13]), tonumber(ARGV[14])
local bucket = redis.call('HMGET', KEYS[5], 't', 'ts')
local tokens = tonumber(bucket[1]) or burst
local last = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate / 1000)
if tokens < 1 then return {-3, math.ceil((1 - tokens) * 1000 / rate)} end

-- Fair share: a tenant may have MAX_QUEUE / (tenants with open frames) frames open (admitted and
-- not finished: waiting, decoding or in a batch), at most TENANT_MAX_QUEUE. Entries leave when the
-- frame is finished, or by themselves at their expiry.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local mine = redis.call('ZCARD', KEYS[2])
local active = redis.call('ZCARD', KEYS[3])
if mine == 0 then active = active + 1 end
local share = math.min(tonumber(ARGV[10]), math.max(1, math.floor(tonumber(ARGV[2]) / active)))
if mine >= share then return {-2, 0} end

-- The group's lag (frames not yet delivered to any worker) is the backlog MAX_QUEUE bounds. Redis
-- reports nil lag when it cannot tell; then the stream's length (waiting + pending) stands in.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
local found = false
if ok then
  for _, g in ipairs(groups) do
    local name, lag
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'lag' then lag = g[i + 1] end
    end
    if name == ARGV[1] then
      found = true
      if not lag then lag = redis.call('XLEN', KEYS[1]) end
      if tonumber(lag) >= tonumber(ARGV[2]) then return {0, 0} end
    end
  end
end

local waiting = tonumber(redis.call('GET', KEYS[4]) or '0')
if waiting + tonumber(ARGV[12]) > tonumber(ARGV[11]) then return {-4, 0} end

-- Redis lost the group (restart without persistence): recreate from '$' so nothing older replays.
if not found then redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM') end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[4], 'img', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[9])
extend(KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[3], 'GT', ARGV[7], ARGV[8])
extend(KEYS[3], ARGV[7])
redis.call('INCRBY', KEYS[4], ARGV[12])
redis.call('HSET', KEYS[5], 't', tokens - 1, 'ts', now)
redis.call('PEXPIRE', KEYS[5], math.ceil(burst * 1000 / rate) + 1000)
return {1, 0}
