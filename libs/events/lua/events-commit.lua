-- Commits one step of a shard, all or nothing, and only while the caller still holds the lease:
-- the read position, the states of the cameras that changed, the events they made (appended to
-- the durable events stream) and their counts. A paused former owner whose lease was taken over
-- gets 0 and writes nothing, so every event is appended exactly once.
-- KEYS: lease, checkpoint, events, counts
-- ARGV: token, pos, maxLen, states, deletes, events, counts (how many of each follow), then
--   states x (camera, state), deletes x camera, events x (id, camera, kind, event), counts x (camera, counts)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'pos', ARGV[2])
local i = 8
for _ = 1, tonumber(ARGV[4]) do
  redis.call('HSET', KEYS[2], 'cam:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, tonumber(ARGV[5]) do
  redis.call('HDEL', KEYS[2], 'cam:' .. ARGV[i])
  i = i + 1
end
for _ = 1, tonumber(ARGV[6]) do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'id', ARGV[i], 'camera', ARGV[i + 1], 'kind', ARGV[i + 2], 'event', ARGV[i + 3])
  i = i + 4
end
for _ = 1, tonumber(ARGV[7]) do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
