-- Takes a free shard lease. Returns 1 when taken.
-- KEYS: lease
-- ARGV: token, ttlMs
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
