import type { Result } from 'ioredis';

/**
 * All-or-nothing admission in one script, so no other daemon can interleave:
 * sweep expired members of every key, check every capacity, then add the
 * member to every key. KEYS: the limit sets, then the waiting flag (all carry
 * the `{exai}` hash tag, so they live in one Redis Cluster slot). ARGV: now,
 * expiresAt, member, how long each key must outlive its newest member (ms),
 * how long the waiting flag outlives a refusal (ms), then one capacity per
 * limit set. Returns 0 when admitted, else the 1-based index of the first
 * full key.
 *
 * A refusal sets the waiting flag: someone, on some daemon, now waits for a
 * permit, so releases must publish (RELEASE_SCRIPT). A waiter retries at least
 * every poll interval and every retry that is refused sets it again, so the
 * flag stays up while anyone waits and drops once nobody has for a while.
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
local n = #KEYS - 1
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
end
for i = 1, n do
  if not redis.call('ZSCORE', KEYS[i], ARGV[3]) then
    if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[5 + i]) then
      redis.call('SET', KEYS[n + 1], '1', 'PX', ARGV[5])
      return i
    end
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < keep then
    redis.call('PEXPIRE', KEYS[i], keep)
  end
end
return 0
`;

/**
 * Release in one command: remove the member from every key, and tell the
 * other daemons only when that freed a permit (a member already swept or
 * expired frees nothing) and someone waits (the flag ADMIT_SCRIPT sets on a
 * refusal): uncontended, a release wakes no daemon. KEYS: the limit sets,
 * then the waiting flag. ARGV: member, channel, message. Returns how many
 * keys held the member.
 */
export const RELEASE_SCRIPT = `
local n = #KEYS - 1
local removed = 0
for i = 1, n do
  removed = removed + redis.call('ZREM', KEYS[i], ARGV[1])
end
if removed > 0 and redis.call('EXISTS', KEYS[n + 1]) == 1 then
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
    /** ADMIT_SCRIPT: numKeys, the limit keys and the waiting flag, then its ARGV. */
    exaiAdmit(numKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
    /** RELEASE_SCRIPT: numKeys, the limit keys and the waiting flag, then its ARGV. */
    exaiRelease(numKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
  }
}
