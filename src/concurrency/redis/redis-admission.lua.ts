import type { Result } from 'ioredis';

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

/**
 * Release in one command: remove the member from every key, and tell the
 * other daemons only when it freed something (a member already swept or
 * expired frees nothing). KEYS: the limit sets. ARGV: member, channel,
 * message. Returns how many keys held the member.
 */
export const RELEASE_SCRIPT = `
local removed = 0
for i = 1, #KEYS do
  removed = removed + redis.call('ZREM', KEYS[i], ARGV[1])
end
if removed > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return removed
`;

/**
 * The scripts as commands (ioredis defineCommand): each is sent whole once
 * per connection, then by its SHA1 (EVALSHA), and sent whole again when Redis
 * answers NOSCRIPT (it restarted and lost its script cache).
 */
export const LIMIT_SCRIPTS = { exaiAdmit: ADMIT_SCRIPT, exaiRelease: RELEASE_SCRIPT } as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** ADMIT_SCRIPT: numKeys, keys, then its ARGV. */
    exaiAdmit(numKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
    /** RELEASE_SCRIPT: numKeys, keys, then its ARGV. */
    exaiRelease(numKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
  }
}
