import type { ConcurrencyBackend } from '../src/concurrency/concurrency-backend';
import type { LeaseHolder } from '../src/concurrency/lease';
import { concurrencyKit } from '../test/support/concurrency-kit';
import { fmt, nowUs, summarize } from './stats';
import type { Targets } from './targets';

/** One session's GLM call that is always live: the uncontended admission case. */
function benchHolder(): LeaseHolder {
  return {
    requestId: 'bench',
    sessionId: 'bench',
    connectionId: 'bench',
    provider: 'GLM',
    timeoutMs: 60_000,
    isLive: () => true,
    abort: () => undefined,
  };
}

/**
 * Microseconds of each uncontended acquire + release, after a warm-up.
 * `yieldEvery` lets pending callbacks (a Redis ZREM) run between samples;
 * `between` runs before each measured sample, outside its time, so a
 * reference figure can be taken interleaved with it.
 */
export async function acquireReleaseSamples(
  runs: { warmup: number; measured: number; yieldEvery: number; between?: () => Promise<void> },
  backend?: ConcurrencyBackend,
): Promise<number[]> {
  const { core } = concurrencyKit({ EXAI_WS_QUEUE_TIMEOUT_SECS: '30' }, backend);
  const signal = new AbortController().signal;
  const holder = benchHolder();
  for (let i = 0; i < runs.warmup; i++) (await core.acquire(holder, { signal })).release();
  await new Promise((r) => setImmediate(r));
  const samples: number[] = [];
  for (let i = 0; i < runs.measured; i++) {
    if (runs.between) await runs.between();
    const t0 = nowUs();
    const lease = await core.acquire(holder, { signal });
    lease.release();
    samples.push(nowUs() - t0);
    if (i % runs.yieldEvery === 0) await new Promise((r) => setImmediate(r));
  }
  return samples;
}

/** Uncontended acquire + release on the in-memory backend. */
export async function admissionBench(targets: Targets): Promise<void> {
  const s = summarize(await acquireReleaseSamples({ warmup: 5_000, measured: 50_000, yieldEvery: 1000 }));
  console.log(`admission (uncontended acquire + release, ${s.n} runs): p50 ${fmt(s.p50)} µs, p99 ${fmt(s.p99)} µs`);
  targets.line('memory-backend admission p99', {
    name: 'memory-backend admission p99',
    value: s.p99,
    kind: 'max',
    limit: 20,
    unit: 'µs',
  });
}
