-- Gives a lease back at once (a clean shutdown or rebalancing), if the caller still holds it.
-- KEYS: lease
-- ARGV: token
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
