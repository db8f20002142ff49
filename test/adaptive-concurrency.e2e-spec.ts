import { AdaptiveConcurrencyService } from '../src/concurrency/adaptive/adaptive-concurrency.service';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { ContinuousLoad } from './support/adaptive-load';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestRedis } from './support/redis';
import { waitFor } from './support/wait';

const MODEL = 'glm-4.5-flash';

/** The median of the limit sampled every 250 ms for `ms`. */
async function medianLimit(
  read: () => number,
  ms: number,
): Promise<{ median: number; within: (lo: number, hi: number) => number }> {
  const seen: number[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    seen.push(read());
    await new Promise((r) => setTimeout(r, 250));
  }
  const sorted = [...seen].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)],
    within: (lo, hi) => seen.filter((v) => v >= lo && v <= hi).length / seen.length,
  };
}

/**
 * Convergence properties of the adaptive limit against the simulator's
 * capacity model, with generous bounds (the machine is shared and noisy).
 * Fast config: the simulator runs at speed 0.5 (about 250 ms per call), so a
 * round trip, the limit's unit of change, is short; the algorithm's own
 * settings are the defaults.
 */
describe('adaptive concurrency against a capacity-limited simulator', () => {
  const sim = new ProviderSimulator({ speed: 0.5, capacity: { glm: 6 } });
  let daemon: TestDaemon;
  let load: ContinuousLoad | undefined;

  beforeAll(async () => {
    await sim.start();
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'real',
      GLM_API_KEY: 'sim-glm-key',
      GLM_API_URL: sim.glmBaseUrl,
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '64',
      EXAI_WS_SESSION_MAX_INFLIGHT: '4',
      EXAI_WS_GLM_MAX_INFLIGHT: '20',
      EXAI_GLM_CONCURRENCY: 'adaptive',
      EXAI_WS_QUEUE_TIMEOUT_SECS: '120',
      EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'chat',
    });
  });
  afterAll(async () => {
    await load?.stop();
    await daemon?.close();
    await sim.stop();
  });

  it('capacity 6, ceiling 20, 40 sessions: converges near 6 with few 429s, then follows capacity 3 and 10', async () => {
    const adaptive = daemon.app.get(AdaptiveConcurrencyService);
    const limit = () => adaptive.view().GLM.limit;
    expect(adaptive.view().GLM).toMatchObject({ mode: 'adaptive', ceiling: 20, min: 1 });
    load = await ContinuousLoad.start(daemon.url, 40, MODEL);

    // Converged: by 30 s the limit spends at least 3/4 of a 3 s window within ±1 of 6.
    const started = Date.now();
    let converged = false;
    while (!converged && Date.now() - started < 30_000) {
      converged = (await medianLimit(limit, 3000)).within(5, 7) >= 0.75;
    }
    expect(converged).toBe(true);

    // After convergence: under 2 % of upstream requests answered 429.
    sim.capacity.resetStats();
    const okBefore = load.ok;
    await waitFor(() => load!.ok - okBefore >= 150, 60_000, '150 more calls');
    const stats = sim.capacity.read('glm');
    expect(stats.rejected / (stats.admitted + stats.rejected)).toBeLessThan(0.02);
    expect(limit()).toBeLessThanOrEqual(7);

    // Capacity drops to 3: the limit follows down within 30 s.
    sim.capacity.set('glm', 3);
    await waitFor(() => limit() <= 4, 30_000, 'GLM limit at most 4 after capacity 3');
    expect((await medianLimit(limit, 3000)).median).toBeLessThanOrEqual(4);

    // Capacity rises to 10: the limit follows up within 30 s.
    sim.capacity.set('glm', 10);
    await waitFor(() => limit() >= 7, 30_000, 'GLM limit at least 7 after capacity 10');
    expect((await medianLimit(limit, 3000)).median).toBeGreaterThanOrEqual(6);
    // Calls that still failed (429 after every retry) stay rare.
    expect(load.failed / (load.ok + load.failed)).toBeLessThan(0.02);

    // Visible: the metric, the overload counter and /health agree with the limiter.
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    const shown = Number(/^exai_provider_limit\{provider="GLM"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(shown).toBeGreaterThanOrEqual(1);
    expect(shown).toBeLessThanOrEqual(20);
    expect(metrics).toMatch(/^exai_provider_limit\{provider="KIMI"\} \d+$/m);
    const overloads = Number(
      /^exai_provider_overload_total\{provider="GLM",signal="glm_1302"\} (\d+)$/m.exec(metrics)?.[1],
    );
    expect(overloads).toBeGreaterThan(0);
    const health = (await (await fetch(`${daemon.httpUrl}/health`)).json()) as {
      details: {
        provider_limits: {
          providers: Record<string, { limit: number; ceiling: number; mode: string; history: unknown[] }>;
        };
      };
    };
    const glm = health.details.provider_limits.providers.GLM;
    expect(glm).toMatchObject({ mode: 'adaptive', ceiling: 20 });
    expect(glm.limit).toBeGreaterThanOrEqual(1);
    expect(glm.history.length).toBeGreaterThan(0);
    expect(health.details.provider_limits.providers.KIMI).toMatchObject({ mode: 'static', limit: 3, ceiling: 3 });
  }, 180_000);
});

describe('adaptive concurrency shared through Redis', () => {
  const sim = new ProviderSimulator({ speed: 0.5, capacity: { glm: 6 } });
  let redis: TestRedis;
  const daemons: TestDaemon[] = [];
  const loads: ContinuousLoad[] = [];

  beforeAll(async () => {
    await sim.start();
    redis = await TestRedis.start();
    for (let i = 0; i < 2; i++) {
      daemons.push(
        await startTestDaemon({
          EXAI_PROVIDERS_MODE: 'real',
          GLM_API_KEY: 'sim-glm-key',
          GLM_API_URL: sim.glmBaseUrl,
          EXAI_CONCURRENCY_BACKEND: 'redis',
          REDIS_URL: redis.url,
          EXAI_WS_GLOBAL_MAX_INFLIGHT: '64',
          EXAI_WS_SESSION_MAX_INFLIGHT: '4',
          EXAI_WS_GLM_MAX_INFLIGHT: '20',
          EXAI_GLM_CONCURRENCY: 'adaptive',
          EXAI_ADAPTIVE_SYNC_MS: '250',
          EXAI_WS_QUEUE_TIMEOUT_SECS: '120',
          EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'chat',
        }),
      );
    }
  });
  afterAll(async () => {
    for (const l of loads) await l.stop();
    for (const d of daemons) await d.close();
    await sim.stop();
    await redis?.stop();
  });

  it('two daemons on one capacity of 6 converge to one shared limit and a combined in-flight of at most 6', async () => {
    const limits = daemons.map((d) => d.app.get(AdaptiveConcurrencyService));
    const limit = (i: number) => limits[i].view().GLM.limit;
    for (const [i, d] of daemons.entries()) loads.push(await ContinuousLoad.start(d.url, 20, MODEL, `d${i}`));

    const started = Date.now();
    let converged = false;
    while (!converged && Date.now() - started < 30_000) {
      converged = (await medianLimit(() => limit(0), 3000)).within(4, 7) >= 0.75;
    }
    expect(converged).toBe(true);
    // One value, not one per daemon: both admit against the same number.
    await waitFor(() => limit(0) === limit(1), 5000, 'both daemons on the shared limit');

    sim.capacity.resetStats();
    const okBefore = loads[0].ok + loads[1].ok;
    await waitFor(() => loads[0].ok + loads[1].ok - okBefore >= 300, 90_000, '300 more calls');
    const stats = sim.capacity.read('glm');
    expect(stats.peak).toBeLessThanOrEqual(6);
    // Demand over 6 is what the simulator refuses: it stays under 2 % of requests.
    expect(stats.rejected / (stats.admitted + stats.rejected)).toBeLessThan(0.02);
    // Both daemons did work: the shared limit is split, not taken by one.
    expect(loads[0].ok).toBeGreaterThan(20);
    expect(loads[1].ok).toBeGreaterThan(20);
    expect(Math.max(limit(0), limit(1))).toBeLessThanOrEqual(7);
  }, 150_000);
});
