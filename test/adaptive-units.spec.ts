import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import {
  AdaptiveBounds,
  applyStep,
  effectiveLimit,
  initialState,
  LatencyGradient,
  LimitState,
  LimitStep,
} from '../src/concurrency/adaptive/adaptive-limit';
import {
  adaptiveSettings,
  toAdaptiveConfig,
  AdaptiveConcurrencyEnv,
} from '../src/concurrency/adaptive/adaptive.config';
import { MemoryLimitStore } from '../src/concurrency/adaptive/limit-store';
import { classifyOverload } from '../src/concurrency/adaptive/overload-signal';
import { ProviderCapacity } from '../src/concurrency/adaptive/provider-capacity';
import { RedisLimitStore } from '../src/concurrency/adaptive/redis-limit.store';
import { Lease } from '../src/concurrency/lease';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import { AdmissionService } from '../src/concurrency/admission.service';
import { LeaseLedger } from '../src/concurrency/lease-ledger';
import { systemClock } from '../src/common/clock';
import { MemoryConcurrencyBackend } from '../src/concurrency/memory-concurrency.backend';
import { parseEnv, ConfigValidationError } from '../src/config/validate-config';
import { MetricsService } from '../src/metrics/metrics.service';
import { holder, settle } from './support/concurrency-kit';
import { TestRedis } from './support/redis';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { SimCapacity } from '../src/simulator/simulator.capacity';

const BOUNDS: AdaptiveBounds = { min: 1, max: 20 };
const TUNING = { backoff: 0.7, tolerance: 1.5 };

describe('applyStep (the AIMD rule)', () => {
  const grow = (inflight: number): LimitStep => ({ kind: 'grow', inflight, reason: 't' });

  it('slow-starts from the minimum, +1 per success while the limit is in use', () => {
    let s = initialState(BOUNDS);
    expect(s).toEqual({ value: 1, cutAt: 0, brakeAt: 0, phase: 'slow_start' });
    for (let i = 0; i < 5; i++) s = applyStep(s, grow(Math.floor(s.value)), BOUNDS, TUNING, 1000);
    expect(s.value).toBe(6);
  });

  it('does not grow a limit that is less than half used', () => {
    const s: LimitState = { value: 10, cutAt: 0, brakeAt: 0, phase: 'avoidance' };
    expect(applyStep(s, grow(4), BOUNDS, TUNING, 1).value).toBe(10);
    expect(applyStep(s, grow(5), BOUNDS, TUNING, 1).value).toBeCloseTo(10.1);
  });

  it('cuts multiplicatively once per round: answers to attempts started before the cut do not cut again', () => {
    let s: LimitState = { value: 10, cutAt: 0, brakeAt: 0, phase: 'slow_start' };
    s = applyStep(s, { kind: 'cut', startedAt: 100, reason: 't' }, BOUNDS, TUNING, 200);
    expect(s).toMatchObject({ value: 7, cutAt: 200, phase: 'avoidance' });
    s = applyStep(s, { kind: 'cut', startedAt: 150, reason: 't' }, BOUNDS, TUNING, 210);
    expect(s.value).toBe(7);
    s = applyStep(s, { kind: 'cut', startedAt: 201, reason: 't' }, BOUNDS, TUNING, 300);
    expect(s.value).toBeCloseTo(4.9);
  });

  it('in avoidance grows by 1/limit per success, about +1 per round trip', () => {
    let s: LimitState = { value: 5, cutAt: 0, brakeAt: 0, phase: 'avoidance' };
    for (let i = 0; i < 5; i++) s = applyStep(s, grow(5), BOUNDS, TUNING, 1);
    expect(s.value).toBeGreaterThan(5.9);
    expect(s.value).toBeLessThan(6.1);
  });

  it('brakes by 1 once per round, and never below the floor or above the ceiling', () => {
    let s: LimitState = { value: 3, cutAt: 50, brakeAt: 0, phase: 'avoidance' };
    const brake = (startedAt: number): LimitStep => ({ kind: 'brake', startedAt, reason: 't' });
    expect(applyStep(s, brake(40), BOUNDS, TUNING, 60).value).toBe(3);
    s = applyStep(s, brake(60), BOUNDS, TUNING, 70);
    expect(s).toMatchObject({ value: 2, brakeAt: 70 });
    expect(applyStep(s, brake(65), BOUNDS, TUNING, 80).value).toBe(2);
    s = applyStep(s, brake(71), BOUNDS, TUNING, 90);
    s = applyStep(s, brake(91), BOUNDS, TUNING, 100);
    expect(s.value).toBe(1);
    const high: LimitState = { value: 20, cutAt: 0, brakeAt: 0, phase: 'slow_start' };
    expect(applyStep(high, grow(20), BOUNDS, TUNING, 1).value).toBe(20);
    expect(applyStep(high, grow(20), { min: 1, max: 8 }, TUNING, 1).value).toBe(8);
  });

  it('admits the floor of the value, with 1/x sums that land on an integer counting as it', () => {
    let s: LimitState = { value: 5, cutAt: 0, brakeAt: 0, phase: 'avoidance' };
    for (let i = 0; i < 5; i++) s = { ...s, value: s.value + 1 / 5 };
    expect(effectiveLimit(s, BOUNDS)).toBe(6);
    expect(effectiveLimit({ ...s, value: 5.99 }, BOUNDS)).toBe(5);
    expect(effectiveLimit({ ...s, value: 0.2 }, BOUNDS)).toBe(1);
  });
});

describe('LatencyGradient', () => {
  let now = 0;
  const clock = () => now;
  const sample = (ms: number, family = 'glm-4.6') => ({ startedAt: now, firstTokenMs: ms, family, inflight: 10 });

  it('grows near the baseline, holds as latency rises, brakes past the tolerance', () => {
    const g = new LatencyGradient({ ...TUNING, baselineWindowMs: 60_000 }, clock);
    expect(g.onSuccess(sample(100)).kind).toBe('grow');
    expect(g.onSuccess(sample(110)).kind).toBe('grow');
    let step: LimitStep = g.onSuccess(sample(140));
    for (let i = 0; i < 5 && step.kind === 'grow'; i++) step = g.onSuccess(sample(140));
    expect(step.kind).toBe('hold');
    for (let i = 0; i < 10; i++) step = g.onSuccess(sample(250));
    expect(step).toMatchObject({ kind: 'brake' });
    expect(g.ratio).toBeGreaterThan(1.5);
  });

  it('keeps one baseline per family, and a success without a first-token time changes nothing', () => {
    const g = new LatencyGradient({ ...TUNING, baselineWindowMs: 60_000 }, clock);
    g.onSuccess(sample(100, 'fast'));
    g.onSuccess(sample(1000, 'slow+web'));
    for (let i = 0; i < 10; i++) g.onSuccess(sample(1000, 'slow+web'));
    expect(g.ratio).toBeCloseTo(1);
    expect(g.onSuccess({ startedAt: 0, family: 'fast', inflight: 1 }).kind).toBe('grow');
  });

  it('forgets a baseline after its window, so a provider that got slower for good stops braking', () => {
    now = 0;
    const g = new LatencyGradient({ ...TUNING, baselineWindowMs: 10_000 }, clock);
    g.onSuccess(sample(100));
    for (let i = 0; i < 20; i++) g.onSuccess(sample(300));
    expect(g.braking).toBe(true);
    now = 5_000;
    for (let i = 0; i < 5; i++) g.onSuccess(sample(300));
    now = 10_000;
    for (let i = 0; i < 30; i++) g.onSuccess(sample(300));
    expect(g.braking).toBe(false);
    expect(g.ratio).toBeLessThan(1.1);
  });
});

describe('classifyOverload', () => {
  it.each([
    [429, '1302', 'glm_1302'],
    [429, '1303', 'glm_1303'],
    [429, '1305', 'glm_1305'],
    [503, '1305', 'glm_1305'],
    [429, 'engine_overloaded_error', 'engine_overloaded'],
    [503, 'engine_overloaded_error', 'engine_overloaded'],
    [429, 'rate_limit_reached_error', 'rate_limit_reached'],
    [429, undefined, 'http_429'],
    [503, undefined, 'http_503'],
    [429, '1113', undefined],
    [429, 'exceeded_current_quota_error', undefined],
    [500, '500', undefined],
    [400, '1214', undefined],
  ])('HTTP %s code %s -> %s', (status, code, signal) => {
    expect(classifyOverload(status, code)).toBe(signal);
  });
});

describe('adaptive config', () => {
  it('defaults to static with floor 1, and reads extension providers by pattern', () => {
    const env = {
      EXAI_LOCAL_CONCURRENCY: 'adaptive',
      EXAI_LOCAL_MIN_INFLIGHT: '2',
      EXAI_GLM_CONCURRENCY: 'adaptive',
    };
    const config = toAdaptiveConfig(env);
    expect(config.modes).toEqual({ LOCAL: 'adaptive', GLM: 'adaptive', KIMI: 'static' });
    expect(config.mins).toEqual({ LOCAL: 2, GLM: 1, KIMI: 1 });
    expect(config).toMatchObject({ backoff: 0.7, tolerance: 1.5, baselineWindowMs: 60_000, syncMs: 1000 });
  });

  it('names every bad value', () => {
    expect(() => parseEnv(AdaptiveConcurrencyEnv, { EXAI_GLM_CONCURRENCY: 'auto' })).toThrow(ConfigValidationError);
    expect(() => parseEnv(AdaptiveConcurrencyEnv, { EXAI_ADAPTIVE_BACKOFF: '1.5' })).toThrow(/EXAI_ADAPTIVE_BACKOFF/);
    expect(adaptiveSettings({ EXAI_LOCAL_CONCURRENCY: 'fast', EXAI_LOCAL_MIN_INFLIGHT: '0' }).problems).toEqual([
      'EXAI_LOCAL_CONCURRENCY="fast": EXAI_LOCAL_CONCURRENCY must be one of: static, adaptive',
      'EXAI_LOCAL_MIN_INFLIGHT="0": EXAI_LOCAL_MIN_INFLIGHT must be an integer of at least 1',
    ]);
  });
});

/** The seam admission asks, with a limit a test can move. */
class MovableCapacity extends ProviderCapacity {
  private readonly listeners: Array<() => void> = [];
  constructor(public limit: number) {
    super();
  }
  limitOf(provider: string): number | undefined {
    return provider === 'GLM' ? this.limit : undefined;
  }
  onRaised(listener: () => void): void {
    this.listeners.push(listener);
  }
  set(limit: number): void {
    const raised = limit > this.limit;
    this.limit = limit;
    if (raised) for (const l of this.listeners) l();
  }
}

describe('admission against a moving provider limit', () => {
  const env = { EXAI_WS_GLOBAL_MAX_INFLIGHT: '50', EXAI_WS_SESSION_MAX_INFLIGHT: '50', EXAI_WS_GLM_MAX_INFLIGHT: '20' };
  function kit(capacity: ProviderCapacity) {
    const config = toConcurrencyConfig(env);
    const backend = new MemoryConcurrencyBackend();
    const ledger = new LeaseLedger(backend, config.leaseGraceMs, systemClock, new Logger(LeaseLedger.name));
    // The Nest adapter, because what is under test is its wiring of the capacity seam.
    const admission = new AdmissionService(config, ledger, new MetricsService(), capacity);
    return { ledger, admission };
  }
  const abort = new AbortController();
  afterAll(() => abort.abort(new Error('test over')));

  it('lowering revokes no lease, admits again only below the new limit, and raising admits at once', async () => {
    const capacity = new MovableCapacity(3);
    const { ledger, admission } = kit(capacity);
    const held: Lease[] = [];
    for (let i = 0; i < 3; i++) held.push(await admission.acquire(holder(`s${i}`, 'GLM'), { signal: abort.signal }));
    expect(admission.capacityOf('GLM')).toBe(3);

    capacity.set(1);
    expect(held.every((l) => !l.isReleased)).toBe(true);
    let admitted: Lease | undefined;
    void admission.acquire(holder('late', 'GLM'), { signal: abort.signal }).then((l) => (admitted = l));
    await settle();
    held[0].release();
    held[1].release();
    await settle();
    await settle();
    expect(admitted).toBeUndefined();
    expect(ledger.size).toBe(1);
    held[2].release();
    await new Promise((r) => setTimeout(r, 20));
    expect(admitted).toBeInstanceOf(Lease);

    // Full at 1; a raise admits the next waiter with no release at all.
    let second: Lease | undefined;
    void admission.acquire(holder('raised', 'GLM'), { signal: abort.signal }).then((l) => (second = l));
    await settle();
    expect(second).toBeUndefined();
    capacity.set(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBeInstanceOf(Lease);
    admitted?.release();
    second?.release();
  });
});

describe('the shared limit in Redis follows the same rule', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(() => redis.stop());

  it('gives the same state as the in-memory rule for the same steps, and counts every daemon’s leases for growth', async () => {
    let now = 1000;
    const clock = () => now;
    const memory = new MemoryLimitStore(TUNING, clock);
    const shared = new RedisLimitStore(redis.url, TUNING, clock);
    const other = new RedisLimitStore(redis.url, TUNING, clock);
    await shared.connect();
    await other.connect();
    const steps: LimitStep[] = [
      { kind: 'grow', inflight: 1, reason: '' },
      { kind: 'grow', inflight: 2, reason: '' },
      { kind: 'grow', inflight: 3, reason: '' },
      { kind: 'grow', inflight: 4, reason: '' },
      { kind: 'cut', startedAt: 900, reason: '' },
      { kind: 'cut', startedAt: 1500, reason: '' },
      { kind: 'cut', startedAt: 1600, reason: '' },
      { kind: 'grow', inflight: 3, reason: '' },
      { kind: 'hold', reason: '' },
      { kind: 'brake', startedAt: 1700, reason: '' },
      { kind: 'brake', startedAt: 2500, reason: '' },
      { kind: 'grow', inflight: 0, reason: '' },
    ];
    for (const step of steps) {
      now += 100;
      const a = await memory.apply('GLM', step, BOUNDS);
      // Alternate daemons: the value is one, whoever applies the step.
      const b = await (now % 200 === 0 ? shared : other).apply('GLM', step, BOUNDS);
      expect(b.value).toBeCloseTo(a.value, 9);
      expect(b).toMatchObject({ cutAt: a.cutAt, brakeAt: a.brakeAt, phase: a.phase });
    }
    // Growth counts the live leases of every daemon in the shared lease set.
    const admin = new Redis(redis.url);
    const value = (await shared.load('GLM', BOUNDS)).value;
    const members = Array.from({ length: Math.ceil(value) }, (_, i) => [now + 60_000, `d:${i}`]).flat();
    await admin.zadd('{exai}:limit:provider:GLM', ...members);
    const grown = await shared.apply('GLM', { kind: 'grow', inflight: 0, reason: '' }, BOUNDS);
    expect(grown.value).toBeGreaterThan(value);
    admin.disconnect();
    await shared.close();
    await other.close();
  });

  it('keeps adapting its own copy while Redis is unreachable', async () => {
    const store = new RedisLimitStore('redis://127.0.0.1:1', TUNING, Date.now);
    await store.connect();
    const s = await store.apply('GLM', { kind: 'grow', inflight: 1, reason: '' }, BOUNDS);
    expect(s.value).toBe(2);
    await store.close();
  });
});

describe('simulator capacity model', () => {
  const sim = new ProviderSimulator({ speed: 0, capacity: { glm: 1, kimi: 1 } });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  const chat = (base: string, key: string, model: string, content: string) =>
    fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    });

  it('answers beyond capacity with GLM 429 1302 and Kimi 429 engine_overloaded_error, both with Retry-After', async () => {
    const heldGlm = chat(sim.glmBaseUrl, 'sim-glm-key', 'glm-4.5', 'hold [[sim:delay=400]]');
    const heldKimi = chat(sim.kimiBaseUrl, 'sim-kimi-key', 'kimi-k2-0905-preview', 'hold [[sim:delay=400]]');
    await new Promise((r) => setTimeout(r, 100));
    const glm = await chat(sim.glmBaseUrl, 'sim-glm-key', 'glm-4.5', 'over');
    expect(glm.status).toBe(429);
    expect(glm.headers.get('retry-after')).toBe('1');
    expect(await glm.json()).toMatchObject({ error: { code: '1302' } });
    const kimi = await chat(sim.kimiBaseUrl, 'sim-kimi-key', 'kimi-k2-0905-preview', 'over');
    expect(kimi.status).toBe(429);
    expect(kimi.headers.get('retry-after')).toBe('1');
    expect(await kimi.json()).toMatchObject({ error: { type: 'engine_overloaded_error' } });
    expect((await heldGlm).status).toBe(200);
    expect((await heldKimi).status).toBe(200);
    expect(sim.capacity.read('glm')).toMatchObject({ capacity: 1, active: 0, peak: 1, admitted: 1, rejected: 1 });
  });

  it('changes capacity at run time through POST /sim/capacity and refuses bad input with 400', async () => {
    const post = (body: string) =>
      fetch(`${sim.url}/sim/capacity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const ok = await post(JSON.stringify({ glm: 3, kimi: null, reset_stats: true }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      glm: { capacity: 3, admitted: 0, rejected: 0 },
      kimi: { capacity: null },
    });
    for (const bad of ['[1]', '{"glm":0}', '{"glm":2.5}', '{"openai":3}', 'not json']) {
      const res = await post(bad);
      expect(res.status).toBe(400);
    }
    expect((await fetch(`${sim.url}/sim/capacity`, { method: 'DELETE' })).status).toBe(405);
    expect(
      ((await (await fetch(`${sim.url}/sim/capacity`)).json()) as { glm: { capacity: number } }).glm.capacity,
    ).toBe(3);
  });

  it('slows a request down as the provider fills, not at all when alone', () => {
    const capacity = new SimCapacity({ glm: 6 });
    const seats = Array.from({ length: 6 }, () => capacity.admit('glm'));
    const stretch = seats.map((s) => (s.ok ? s.stretch : NaN));
    expect(stretch[0]).toBe(1);
    for (let i = 1; i < 6; i++) expect(stretch[i]).toBeGreaterThan(stretch[i - 1]);
    expect(stretch[5]).toBeCloseTo(2 - 1 / 6);
    expect(capacity.admit('glm').ok).toBe(false);
    for (const s of seats) if (s.ok) s.release();
    expect(capacity.read('glm').active).toBe(0);
  });
});
