-- Sets a job's share of the byte budget to what its images really took (the upload reserved its
-- declared length, or the upload limit when it declared none).
-- KEYS: 1 stored bytes (counter), 2 bytes per job (hash)
-- ARGV: 1 job id, 2 bytes
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
redis.call('INCRBY', KEYS[1], tonumber(ARGV[2]) - tonumber(old))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
