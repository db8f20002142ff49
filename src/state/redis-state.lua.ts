/**
 * One map of the state store in Redis is three keys under the `{exai}` hash
 * tag (one Cluster slot, so every script touches declared keys of one slot):
 * KEYS[1] a hash key → `<expiresAtMs>:<version>:<value>`, KEYS[2] a sorted set
 * key → last access in ms (the LRU order), KEYS[3] the bytes held (keys + stored
 * values). All three expire one TTL after the map's last write, when every
 * entry in them has expired too.
 */

const PARSE_AND_DROP = `
local data, lru, total = KEYS[1], KEYS[2], KEYS[3]
local function parse(raw)
  local a = string.find(raw, ':', 1, true)
  local b = string.find(raw, ':', a + 1, true)
  return tonumber(string.sub(raw, 1, a - 1)), tonumber(string.sub(raw, a + 1, b - 1))
end
local function drop(k)
  local n = redis.call('HSTRLEN', data, k)
  if redis.call('HDEL', data, k) == 1 then redis.call('DECRBY', total, n + #k) end
  redis.call('ZREM', lru, k)
end
-- The LRU score: now, or just after the newest score when that is not older,
-- so entries touched within one millisecond keep their order.
local function stamp(now)
  local top = redis.call('ZRANGE', lru, -1, -1, 'WITHSCORES')
  local score = now
  if #top == 2 and tonumber(top[2]) >= now then score = tonumber(top[2]) + 0.001 end
  return string.format('%.3f', score)
end
`;

/**
 * ARGV: key, now. Returns the stored `<expiresAt>:<version>:<value>` and marks
 * the key most recently used, or nil (an expired entry is dropped on the way).
 */
export const STATE_GET_SCRIPT = `${PARSE_AND_DROP}
local key, now = ARGV[1], tonumber(ARGV[2])
local raw = redis.call('HGET', data, key)
if not raw then return false end
local exp = parse(raw)
if exp <= now then
  drop(key)
  return false
end
redis.call('ZADD', lru, 'XX', stamp(now), key)
return raw
`;

/**
 * ARGV: key, value, now, ttlMs, maxEntries, maxBytes, expected version ('' =
 * any, 0 = absent), 'del' to delete instead of writing.
 * Returns 1 written (or deleted), 0 too big for the map (the old value is
 * gone), -1 another writer changed the entry since the version was read.
 * Expired entries go first (a bounded batch per write), then the least
 * recently used until the new entry fits the count and the bytes.
 */
export const STATE_SET_SCRIPT = `${PARSE_AND_DROP}
local key, value = ARGV[1], ARGV[2]
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local maxEntries, maxBytes, expect = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local current = redis.call('HGET', data, key)
local version = 0
if current then
  local exp, v = parse(current)
  if exp > now then version = v end
end
if expect ~= '' and tonumber(expect) ~= version then return -1 end
drop(key)
if ARGV[8] == 'del' then return 1 end
local stored = string.format('%d:%d:', now + ttl, version + 1) .. value
local size = #stored + #key
if size > maxBytes then return 0 end
for _, k in ipairs(redis.call('ZRANGEBYSCORE', lru, '-inf', now - ttl, 'LIMIT', 0, 64)) do drop(k) end
while true do
  local count = redis.call('ZCARD', lru)
  local bytes = tonumber(redis.call('GET', total) or '0')
  if count < maxEntries and bytes + size <= maxBytes then break end
  local oldest = redis.call('ZRANGE', lru, 0, 0)
  if #oldest == 0 then
    redis.call('SET', total, 0)
    break
  end
  drop(oldest[1])
end
redis.call('HSET', data, key, stored)
redis.call('ZADD', lru, stamp(now), key)
redis.call('INCRBY', total, size)
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
return 1
`;
