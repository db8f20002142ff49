import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import { RedisConcurrencyBackend } from '../src/concurrency/redis/redis-concurrency.backend';
import { TestRedis } from '../test/support/redis';
import { acquireReleaseSamples } from './admission.bench';
import { fmt, nowUs, summarize } from './stats';
import type { Targets } from './targets';

/**
 * Uncontended admission on Redis (one admit script, one release script), next
 * to memory. A bare PING on its own connection is timed before every sample:
 * the round trip to this redis-server that no client code can beat, hit by
 * the same host noise as the admission it is interleaved with. Needs redis-server.
 */
export async function redisBench(targets: Targets): Promise<void> {
  let redis: TestRedis;
  try {
    redis = await TestRedis.start();
  } catch (err) {
    console.log(`admission on Redis: skipped (${(err as Error).message})`);
    return;
  }
  Logger.overrideLogger(['error', 'fatal']);
  const backend = new RedisConcurrencyBackend(
    toConcurrencyConfig({ EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: redis.url }),
  );
  const bare = new Redis(redis.url, { lazyConnect: true });
  await Promise.all([backend.onModuleInit(), bare.connect()]);
  const pings: number[] = [];
  try {
    // Yield after every sample, so the release's ZREM reaches Redis before the next acquire.
    const samples = await acquireReleaseSamples(
      {
        warmup: 500,
        measured: 5_000,
        yieldEvery: 1,
        between: async () => {
          const t0 = nowUs();
          await bare.ping();
          pings.push(nowUs() - t0);
          await new Promise((r) => setImmediate(r));
        },
      },
      backend,
    );
    const s = summarize(samples);
    const ping = summarize(pings);
    console.log(
      `admission on Redis (uncontended acquire + release, ${s.n} runs, loopback redis-server): p50 ${fmt(s.p50)} µs, p99 ${fmt(s.p99)} µs`,
    );
    console.log(
      `  bare PING round trip, interleaved: p50 ${fmt(ping.p50)} µs, p99 ${fmt(ping.p99)} µs; admission ÷ PING: p50 ${fmt(s.p50 / ping.p50, 2)}×, p99 ${fmt(s.p99 / ping.p99, 2)}×`,
    );
    const name = 'Redis admission p99 (loopback)';
    targets.line(name, { name, value: s.p99, kind: 'max', limit: 1000, unit: 'µs' });
  } finally {
    bare.disconnect();
    await backend.onModuleDestroy();
    await redis.stop();
  }
}
