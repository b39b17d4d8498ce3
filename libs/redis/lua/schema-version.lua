-- The site's schema version: written when absent (first start), raised when older (this build
-- reads older layouts and from now on writes its own). Returns what was found (nil when absent).
-- KEYS[1] the version key; ARGV[1] this build's version.
local found = redis.call('GET', KEYS[1])
local number = found and tonumber(found)
if not found or (number and number < tonumber(ARGV[1])) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return found
