-- Gives a finished (completed, failed, cancelled or aborted) job's bytes and tenant slot back.
-- Idempotent: a second call finds nothing to give back.
-- KEYS: 1 stored jobs (zset), 2 stored bytes (counter), 3 the tenant's jobs (zset), 4 bytes per job (hash)
-- ARGV: 1 job id
local b = redis.call('HGET', KEYS[4], ARGV[1])
if b then
  redis.call('DECRBY', KEYS[2], b)
  redis.call('HDEL', KEYS[4], ARGV[1])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return b and 1 or 0
