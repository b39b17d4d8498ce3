-- Leases a connection slot for an address and for a subject, shared by every edge. Leases expire
-- unless their edge renews them, so a crashed edge's slots come back by themselves.
-- KEYS and ARGV are named in src/transport-scripts.ts (the zsets map conn id -> lease expiry ms).
-- Returns 1 leased; -1 the address is at its limit; -2 the subject is.
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1]) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return -2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  if redis.call('PEXPIRETIME', KEYS[i]) < tonumber(ARGV[2]) then redis.call('PEXPIREAT', KEYS[i], ARGV[2]) end
end
return 1
