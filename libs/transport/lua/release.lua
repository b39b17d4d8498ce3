-- Finished frames (answered, expired or dead-lettered) no longer hold bytes in Redis, nor count
-- against their tenant's share.
-- KEYS: 1 bytes in the stream (counter), 2.. each finished frame's tenant set (aligned with ARGV[2..])
-- ARGV: 1 bytes released, 2.. each frame's open-set member ('<cost>:<frame key>')
local left = redis.call('DECRBY', KEYS[1], ARGV[1])
-- The counter is a running sum; if it drifted below zero (frames lost to a restart), heal it.
if left < 0 then redis.call('SET', KEYS[1], 0) left = 0 end
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i]) end
return left
