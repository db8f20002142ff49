/**
 * All-or-nothing admission in one script, so no other daemon can interleave:
 * sweep expired members of every key, check every capacity, then add the
 * member to every key. KEYS: the limit sets (all carry the `{exai}` hash tag,
 * so they live in one Redis Cluster slot). ARGV: now, expiresAt, member, then
 * one capacity per key. Returns 0 when admitted, else the 1-based index of
 * the first full key.
 */
export const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
end
for i = 1, #KEYS do
  if not redis.call('ZSCORE', KEYS[i], ARGV[3]) then
    if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[3 + i]) then
      return i
    end
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
end
return 0
`;

/** Pushes the expiry of members that are still present (a running call's heartbeat). */
export const REFRESH_SCRIPT = `
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', ARGV[1], ARGV[2])
end
return 0
`;
