-- Records how far an output (MQTT, a webhook) has delivered a shard's events, only while the caller
-- holds the shard's lease. Never moves a cursor backwards.
-- KEYS: lease, checkpoint
-- ARGV: token, field, id
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local cur = redis.call('HGET', KEYS[2], ARGV[2])
if cur then
  local cm, cs = string.match(cur, '^(%d+)-(%d+)$')
  local nm, ns = string.match(ARGV[3], '^(%d+)-(%d+)$')
  if tonumber(cm) > tonumber(nm) or (tonumber(cm) == tonumber(nm) and tonumber(cs) >= tonumber(ns)) then return 1 end
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
