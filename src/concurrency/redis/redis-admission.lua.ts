/**
 * All-or-nothing admission in one script, so no other daemon can interleave:
 * sweep expired members of every key, check every capacity, then add the
 * member to every key. KEYS: the limit sets (all carry the `{exai}` hash tag,
 * so they live in one Redis Cluster slot). ARGV: now, expiresAt, member, how
 * long each key must outlive its newest member (ms), then one capacity per
 * key. Returns 0 when admitted, else the 1-based index of the first full key.
 *
 * A member already present is not checked again, so the same script is the
 * refresh: it pushes a running lease's expiry on, and re-admits the lease on
 * every key it vanished from (Redis restarted empty) only where there is room.
 * Every key expires a while after its newest member, so keys of sessions and
 * daemons that are gone do not stay in Redis.
 */
export const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1])
local keep = tonumber(ARGV[4])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
end
for i = 1, #KEYS do
  if not redis.call('ZSCORE', KEYS[i], ARGV[3]) then
    if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[4 + i]) then
      return i
    end
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < keep then
    redis.call('PEXPIRE', KEYS[i], keep)
  end
end
return 0
`;
