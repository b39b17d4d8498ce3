-- Extends a lease the caller still holds. Returns 0 once it was lost (expired, or taken over).
-- KEYS: lease
-- ARGV: token, ttlMs
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
