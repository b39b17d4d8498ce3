-- Admits a new bulk job for a tenant, atomically: at most ARGV[6] unfinished jobs per tenant, and
-- the image bytes of all unfinished jobs within ARGV[5]. Jobs past their expiry are forgotten
-- first (their bytes given back), so a job that never finished cannot hold the budget forever.
-- KEYS: 1 stored jobs (zset id -> expiry ms), 2 stored bytes (counter), 3 the tenant's jobs
--       (zset id -> expiry ms), 4 bytes per job (hash id -> bytes)
-- ARGV: 1 now ms, 2 expiry ms, 3 job id, 4 bytes, 5 max stored bytes, 6 max jobs per tenant
-- Returns 1 admitted, -1 the tenant has too many unfinished jobs, -2 the byte budget is full.
local now = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  local b = tonumber(redis.call('HGET', KEYS[4], id) or '0')
  redis.call('DECRBY', KEYS[2], b)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[1], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then return -1 end
local stored = tonumber(redis.call('GET', KEYS[2]) or '0')
if stored + tonumber(ARGV[4]) > tonumber(ARGV[5]) then return -2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
redis.call('INCRBY', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return 1
