-- Finished frames (answered, expired or dead-lettered) no longer hold bytes in Redis.
-- KEYS: 1 bytes waiting (counter)
-- ARGV: 1 bytes released
local left = redis.call('DECRBY', KEYS[1], ARGV[1])
-- The counter is a running sum; if it drifted below zero (frames lost to a restart), heal it.
if left < 0 then redis.call('SET', KEYS[1], 0) left = 0 end
return left
