-- Records one image's result and counts it, atomically: a worker killed between the two would
-- otherwise leave a result that progress never counts, and a resumed job could not tell.
-- KEYS: 1 results (hash index -> JSON), 2 the job (hash)
-- ARGV: 1 index, 2 result JSON, 3 counter field ('done' or 'failed'), 4 ttl ms
-- Returns 1 recorded, 0 the image already had a result.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
