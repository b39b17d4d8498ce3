-- Revokes a token by its jti until it would have expired anyway, and forgets revocations whose
-- tokens have expired. The revocation time comes from Redis' clock, so every edge reads one order.
-- KEYS and ARGV are named in src/revocations.ts.
-- Returns the revocation time (ms).
local revoked, expiries = KEYS[1], KEYS[2]
local jti, expiresAt = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', expiries, '-inf', now)) do
  redis.call('ZREM', revoked, old)
  redis.call('ZREM', expiries, old)
end
if expiresAt > now then
  redis.call('ZADD', revoked, now, jti)
  redis.call('ZADD', expiries, expiresAt, jti)
end
return now
