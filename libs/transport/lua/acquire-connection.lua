-- Leases a connection slot in each set of KEYS (an address's, a subject's), shared by every edge.
-- Leases expire unless their edge renews them, so a crashed edge's slots come back by themselves.
-- KEYS: the sets (zsets mapping conn id -> lease expiry ms); ARGV: 1 now, 2 expiry, 3 conn id, then
-- the limit of each set, aligned with KEYS (src/transport-scripts.ts names the first three).
-- Returns 1 leased, or -i: the set KEYS[i] is at its limit (nothing leased).
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[3 + i]) then return -i end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  if redis.call('PEXPIRETIME', KEYS[i]) < tonumber(ARGV[2]) then redis.call('PEXPIREAT', KEYS[i], ARGV[2]) end
end
return 1
