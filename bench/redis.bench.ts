import { Logger } from '@nestjs/common';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import { RedisConcurrencyBackend } from '../src/concurrency/redis/redis-concurrency.backend';
import { TestRedis } from '../test/support/redis';
import { acquireReleaseSamples } from './admission.bench';
import { fmt, summarize } from './stats';
import type { Targets } from './targets';

/** Uncontended admission on Redis (one admit script, one release script), next to memory. Needs redis-server. */
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
  await backend.onModuleInit();
  try {
    // Yield after every sample, so the release's ZREM reaches Redis before the next acquire.
    const samples = await acquireReleaseSamples({ warmup: 500, measured: 5_000, yieldEvery: 1 }, backend);
    const s = summarize(samples);
    console.log(
      `admission on Redis (uncontended acquire + release, ${s.n} runs, loopback redis-server): p50 ${fmt(s.p50)} µs, p99 ${fmt(s.p99)} µs`,
    );
    const name = 'Redis admission p99 (loopback)';
    targets.line(name, { name, value: s.p99, kind: 'max', limit: 1000, unit: 'µs' });
  } finally {
    await backend.onModuleDestroy();
    await redis.stop();
  }
}
