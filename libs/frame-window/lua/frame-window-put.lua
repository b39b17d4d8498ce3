-- Keeps one camera frame in its camera's window (docs/events.md#snapshots), bounded in time, in
-- bytes per camera and in bytes in total. Returns what became of the frame: kept, repeat (already
-- held: a frame re-run after a crash), too_large (above the camera's bound alone) or full (the
-- total bound is reached by the other cameras' windows).
local framesKey, orderKey, camerasKey, bytesKey, totalKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local camera, field, image = ARGV[1], ARGV[2], ARGV[3]
local now, windowMs = tonumber(ARGV[4]), tonumber(ARGV[5])
local cameraBytes, totalBytes = tonumber(ARGV[6]), tonumber(ARGV[7])
local cameraKeyPrefix = ARGV[8]
local size = #image
local oldest = now - windowMs

-- Cameras that stopped sending leave the total here, a few per call, rather than by key expiry,
-- which would leave their bytes counted.
local stale = redis.call('ZRANGEBYSCORE', camerasKey, '-inf', '(' .. oldest, 'LIMIT', 0, 4)
for _, other in ipairs(stale) do
  local held = tonumber(redis.call('HGET', bytesKey, other) or '0')
  redis.call('DEL', cameraKeyPrefix .. 'frames:' .. other, cameraKeyPrefix .. 'order:' .. other)
  redis.call('HDEL', bytesKey, other)
  redis.call('ZREM', camerasKey, other)
  redis.call('DECRBY', totalKey, held)
end

if redis.call('HEXISTS', framesKey, field) == 1 then return 'repeat' end
if size > cameraBytes then return 'too_large' end

-- Oldest first: frames past the window, then as many as the new frame needs room for.
local held = tonumber(redis.call('HGET', bytesKey, camera) or '0')
while true do
  local head = redis.call('LINDEX', orderKey, 0)
  if not head then break end
  local headField, headBytes, headAt = string.match(head, '^(.*)|(%d+)|(%d+)$')
  headBytes = tonumber(headBytes)
  if tonumber(headAt) >= oldest and held + size <= cameraBytes then break end
  redis.call('LPOP', orderKey)
  redis.call('HDEL', framesKey, headField)
  held = held - headBytes
  redis.call('DECRBY', totalKey, headBytes)
end

local total = tonumber(redis.call('GET', totalKey) or '0')
if total + size > totalBytes then
  redis.call('HSET', bytesKey, camera, held)
  return 'full'
end
redis.call('HSET', framesKey, field, image)
redis.call('RPUSH', orderKey, field .. '|' .. size .. '|' .. now)
redis.call('HSET', bytesKey, camera, held + size)
redis.call('INCRBY', totalKey, size)
redis.call('ZADD', camerasKey, now, camera)
-- A safety net only: the stale sweep above is what frees a silent camera's frames.
redis.call('PEXPIRE', framesKey, 2 * windowMs)
redis.call('PEXPIRE', orderKey, 2 * windowMs)
return 'kept'
