import type { RedisOptions } from 'ioredis';

/**
 * The options every daemon client of Redis shares (limiter, its pub/sub,
 * adaptive limits, state store). A call waiting on Redis must be answered now,
 * in the configured failure mode, never after Redis comes back:
 * - while Redis is away, commands fail at once instead of queueing;
 * - a Redis that hangs (stopped, partitioned, swapping) closes nothing, so
 *   only a per-command timeout notices it.
 */
export function failFastRedisOptions(): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (n: number) => Math.min(2000, 100 * n),
  };
}
