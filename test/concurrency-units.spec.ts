import { Logger } from '@nestjs/common';
import { OverCapacityError } from '../src/concurrency/concurrency.errors';
import { ConcurrencyCore } from '../src/concurrency/concurrency.core';
import { HoldTimes } from '../src/concurrency/hold-times';
import { systemClock } from '../src/common/clock';
import { Lease } from '../src/concurrency/lease';
import { everySecondsCron, LeakAuditTasks } from '../src/concurrency/leak-audit.tasks';
import { MemoryConcurrencyBackend } from '../src/concurrency/memory-concurrency.backend';
import { SchedulerRegistry } from '@nestjs/schedule';
import { concurrencyKit, holder, ManualClock, settle, SMALL_LIMITS } from './support/concurrency-kit';

const LIMITS = SMALL_LIMITS;

const controllers: AbortController[] = [];
function signal() {
  const c = new AbortController();
  controllers.push(c);
  return c;
}
// Waiters left queued would keep their queue-timeout timers alive.
afterEach(() => {
  for (const c of controllers.splice(0)) c.abort(new Error('test over'));
});

describe('Lease', () => {
  it('releases once, and a failing release neither throws nor counts twice', () => {
    let calls = 0;
    const logger = new Logger('x');
    jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const lease = new Lease(
      'id',
      holder('s'),
      [],
      0,
      1,
      () => {
        calls++;
        throw new Error('backend down');
      },
      logger,
    );
    expect(lease.release()).toBe(true);
    expect(lease.release()).toBe(false);
    expect(calls).toBe(1);
    expect(lease.isReleased).toBe(true);
  });
});

describe('LeaseLedger', () => {
  it('admits all or nothing: a full session limit charges neither global nor provider', async () => {
    const { ledger, core } = concurrencyKit(LIMITS);
    const glm = holder('s1', 'GLM');
    expect(await ledger.tryAcquire(glm, core.slotsFor(glm))).toBeInstanceOf(Lease);
    const plain = holder('s1');
    expect(await ledger.tryAcquire(plain, core.slotsFor(plain))).toBeInstanceOf(Lease);
    const kimi = holder('s1', 'KIMI');
    const third = await ledger.tryAcquire(kimi, core.slotsFor(kimi));
    expect(third).toMatchObject({ ok: false, full: { name: 'session' } });
    const counts = await ledger.counts();
    expect(counts.get('global')).toBe(2);
    expect(counts.get('provider:GLM')).toBe(1);
    expect(counts.get('provider:KIMI')).toBeUndefined();
    expect(ledger.size).toBe(2);
  });

  it('derives counts from holders: release brings every key back to zero', async () => {
    const { ledger, core } = concurrencyKit(LIMITS);
    const h = holder('s1', 'GLM');
    const lease = (await ledger.tryAcquire(h, core.slotsFor(h))) as Lease;
    lease.release();
    lease.release();
    await settle();
    expect([...(await ledger.counts()).values()]).toEqual([]);
    expect(ledger.size).toBe(0);
  });
  it('gives every lease its own id, across ledgers sharing one backend', async () => {
    // Two daemons' ledgers on one shared limiter: an id charged twice would
    // let one daemon's release free the other's permit.
    const backend = new MemoryConcurrencyBackend();
    const kits = [concurrencyKit({}, backend), concurrencyKit({}, backend)];
    const ids = new Set<string>();
    for (let round = 0; round < 20; round++) {
      for (const { ledger, core } of kits) {
        const h = holder(`s${round}`);
        const lease = (await ledger.tryAcquire(h, core.slotsFor(h))) as Lease;
        expect(lease).toBeInstanceOf(Lease);
        ids.add(lease.id);
        lease.release();
      }
    }
    expect(ids.size).toBe(40);
    await settle();
    expect([...(await backend.counts()).values()]).toEqual([]);
  });
});

describe('ConcurrencyCore: admission', () => {
  it('admits at once when everything fits', async () => {
    const { core, ledger } = concurrencyKit(LIMITS);
    const lease = await core.acquire(holder('s1'), { signal: signal().signal });
    expect(ledger.all()).toEqual([lease]);
  });

  it('queues a call that does not fit and reports its position and limit', async () => {
    const { core } = concurrencyKit(LIMITS);
    await core.acquire(holder('s1'), { signal: signal().signal });
    await core.acquire(holder('s1'), { signal: signal().signal });
    const queued: Array<[number, string]> = [];
    const third = core.acquire(holder('s1'), { signal: signal().signal, onQueued: (p, w) => queued.push([p, w]) });
    await settle();
    expect(queued).toEqual([[1, 'session']]);
    expect(core.queued).toBe(1);
    third.catch(() => undefined);
  });

  it('fails fast with OVER_CAPACITY when the queue timeout is 0', async () => {
    const { core, ledger } = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    await core.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const err = await core.acquire(holder('s2', 'GLM'), { signal: signal().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverCapacityError);
    expect((err as OverCapacityError).wireFields()).toMatchObject({ limit: 'GLM' });
    expect((err as OverCapacityError).retryAfterSecs).toBeGreaterThanOrEqual(1);
    expect((err as OverCapacityError).message).toBe('GLM concurrency limit reached; retry soon');
    expect(core.queued).toBe(0);
    expect((await ledger.counts()).get('global')).toBe(1);
  });

  it('refuses past EXAI_WS_MAX_QUEUE', async () => {
    const { core } = concurrencyKit({ ...LIMITS, EXAI_WS_MAX_QUEUE: '1' });
    await core.acquire(holder('a', 'GLM'), { signal: signal().signal });
    core.acquire(holder('b', 'GLM'), { signal: signal().signal }).catch(() => undefined);
    await settle();
    await expect(core.acquire(holder('c', 'GLM'), { signal: signal().signal })).rejects.toBeInstanceOf(
      OverCapacityError,
    );
    expect(core.queued).toBe(1);
  });

  it('charges nothing to a waiter cancelled while queued', async () => {
    const { core, ledger } = concurrencyKit(LIMITS);
    const first = await core.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const ctl = signal();
    const waiting = core.acquire(holder('s2', 'GLM'), { signal: ctl.signal });
    await settle();
    ctl.abort(new Error('bye'));
    await expect(waiting).rejects.toThrow('bye');
    first.release();
    await settle();
    expect(ledger.size).toBe(0);
    expect(core.queued).toBe(0);
  });

  it('does not let a waiter for a full provider block a waiter for another provider', async () => {
    const { core } = concurrencyKit(LIMITS);
    const first = await core.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const glmQueued: Array<[number, string]> = [];
    let glmState = 'pending';
    const glm = core.acquire(holder('s2', 'GLM'), {
      signal: signal().signal,
      onQueued: (p, w) => glmQueued.push([p, w]),
    });
    glm.then(
      () => (glmState = 'admitted'),
      () => (glmState = 'rejected'),
    );
    const kimi = core.acquire(holder('s3', 'KIMI'), { signal: signal().signal });
    await expect(kimi).resolves.toBeInstanceOf(Lease);
    await settle();
    // Still waiting (not refused) behind the full GLM limit.
    expect(glmState).toBe('pending');
    expect(glmQueued).toEqual([[1, 'GLM']]);
    expect(core.queued).toBe(1);
    first.release();
    await expect(glm).resolves.toBeInstanceOf(Lease);
    expect(core.queued).toBe(0);
  });

  it('serves sessions round-robin when slots free up', async () => {
    const { core } = concurrencyKit({
      ...LIMITS,
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '1',
      EXAI_WS_SESSION_MAX_INFLIGHT: '5',
    });
    const blocker = await core.acquire(holder('x'), { signal: signal().signal });
    const order: string[] = [];
    const want = ['a1', 'a2', 'a3', 'b1', 'c1', 'b2'];
    const leases = new Map(
      want.map((tag) => [
        tag,
        core.acquire(holder(tag[0]), { signal: signal().signal }).then((l) => {
          order.push(tag);
          return l;
        }),
      ]),
    );
    await settle();
    let current = blocker;
    for (let i = 0; i < want.length; i++) {
      current.release();
      await settle();
      expect(order).toHaveLength(i + 1);
      current = await leases.get(order[i])!;
    }
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });

  it('estimates retry_after from recent hold times and the queue ahead, between 1 s and the queue timeout', async () => {
    const clock = new ManualClock(1_000_000);
    const { core } = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '20' }, undefined, clock);
    // Nothing released yet: nothing to estimate from, so the bound (the queue timeout).
    expect(core.retryAfter(1)).toBe(20);
    // Ten calls that each held their permit for 4 s.
    for (let i = 0; i < 10; i++) {
      clock.set(1_000_000 + i * 5000);
      const lease = await core.acquire(holder(`s${i}`), { signal: signal().signal });
      clock.set(1_000_000 + i * 5000 + 4000);
      lease.release();
      await settle();
    }
    // A permit of global 3 frees about every 4/3 s.
    expect(core.retryAfter(1)).toBe(2);
    expect(core.retryAfter(6)).toBe(8);
    expect(core.retryAfter(3, 1)).toBe(12);
    expect(core.retryAfter(10_000)).toBe(20);
    // Long after the last release the estimate does not grow: it is about hold times, not release rate.
    clock.set(1_000_000 + 9 * 5000 + 4000 + 55_000);
    expect(core.retryAfter(1)).toBe(2);
    // Past the 60 s window nothing is recent: back to the bound.
    clock.advance(10_000);
    expect(core.retryAfter(1)).toBe(20);
  });

  it('tries a queued call against its provider limit as it is now: a limit raised while it waits lets it in', async () => {
    const { config, ledger } = concurrencyKit(LIMITS);
    let glmLimit = 1;
    const core = new ConcurrencyCore(config, ledger, systemClock, {
      providerLimit: (p) => (p === 'GLM' ? glmLimit : undefined),
    });
    const first = await core.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const second = core.acquire(holder('s2', 'GLM'), { signal: signal().signal });
    await settle();
    expect(core.queued).toBe(1);
    glmLimit = 2;
    core.wake();
    const lease = await second;
    expect(core.capacityOf('GLM')).toBe(2);
    // A later call of the same provider is charged against the raised limit, now full.
    const third = core.acquire(holder('s3', 'GLM'), { signal: signal().signal });
    await settle();
    expect(core.queued).toBe(1);
    first.release();
    (await third).release();
    lease.release();
  });

  it('estimates from the most recent 256 hold times, across the ring wrapping and the window dropping the old', () => {
    const holds = new HoldTimes();
    const t0 = 1_000_000;
    // 300 releases held 40 s each, then 256 held 2 s: only the latest 256 count.
    for (let i = 0; i < 300; i++) holds.note(t0 + i - 40_000, t0 + i);
    expect(holds.retryAfter(1, 1, 3_600_000, t0 + 300)).toBe(40);
    for (let i = 0; i < 256; i++) holds.note(t0 + 300 + i - 2000, t0 + 300 + i);
    expect(holds.retryAfter(1, 1, 3_600_000, t0 + 600)).toBe(2);
    // 200 of them held 9 s: (56 * 2 + 200 * 9) / 256 = 7.47 s.
    for (let i = 0; i < 200; i++) holds.note(t0 + 600 + i - 9000, t0 + 600 + i);
    expect(holds.retryAfter(1, 1, 3_600_000, t0 + 800)).toBe(8);
    expect(holds.retryAfter(39, 1, 3_600_000, t0 + 800)).toBe(292);
    // A release 61 s later drops every older one from the front, whatever the ring's start.
    holds.note(t0 + 61_800 - 1000, t0 + 61_800);
    expect(holds.retryAfter(1, 1, 3_600_000, t0 + 61_800)).toBe(1);
    expect(holds.retryAfter(1, 1, 3_600_000, t0 + 200_000)).toBe(300);
  });

  it('caps retry_after at 300 s and at a queue timeout of 0 answers 1 s', async () => {
    const long = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '3600' });
    expect(long.core.retryAfter(10_000)).toBe(300);
    const none = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    (await none.core.acquire(holder('s'), { signal: signal().signal })).release();
    await settle();
    expect(none.core.retryAfter(10_000)).toBe(1);
  });

  it('reports the queue ahead on the same limit in retry_after', async () => {
    const clock = new ManualClock(2_000_000);
    const env = { ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '100', EXAI_WS_MAX_QUEUE: '3' };
    const { core } = concurrencyKit(env, undefined, clock);
    // GLM (capacity 1) held 10 s once, then held again; three GLM waiters queue behind it.
    const first = await core.acquire(holder('a', 'GLM'), { signal: signal().signal });
    clock.set(2_010_000);
    first.release();
    await settle();
    await core.acquire(holder('a', 'GLM'), { signal: signal().signal });
    for (const s of ['b', 'c', 'd']) core.acquire(holder(s, 'GLM'), { signal: signal().signal }).catch(() => undefined);
    await settle();
    // The fourth waiter overflows the queue: three ahead of it plus itself, 10 s each.
    const err = (await core
      .acquire(holder('e', 'GLM'), { signal: signal().signal })
      .catch((e: unknown) => e)) as OverCapacityError;
    expect(err.wireFields()).toEqual({ limit: 'GLM', retry_after: 40 });
  });

  it('refuses a waiter at the queue timeout, on the injected clock', async () => {
    const clock = new ManualClock();
    const { core, ledger } = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '30' }, undefined, clock);
    await core.acquire(holder('a', 'GLM'), { signal: signal().signal });
    const waiting = core.acquire(holder('b', 'GLM'), { signal: signal().signal });
    let outcome: unknown;
    waiting.then(
      () => (outcome = 'admitted'),
      (e: unknown) => (outcome = e),
    );
    await settle();
    clock.advance(29_999);
    await settle();
    expect(outcome).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(outcome).toBeInstanceOf(OverCapacityError);
    expect((outcome as OverCapacityError).wireFields()).toMatchObject({ limit: 'GLM' });
    expect(core.queued).toBe(0);
    expect(ledger.size).toBe(1);
  });

  it('refuses every queued waiter on close, charging nothing', async () => {
    const { core, ledger } = concurrencyKit(LIMITS);
    await core.acquire(holder('a', 'GLM'), { signal: signal().signal });
    const waiting = core.acquire(holder('b', 'GLM'), { signal: signal().signal });
    await settle();
    core.close(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    expect(core.queued).toBe(0);
    expect(ledger.size).toBe(1);
  });
});

describe('LeakAudit', () => {
  function audited(env = LIMITS) {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    return concurrencyKit(env);
  }
  afterEach(() => jest.restoreAllMocks());

  it('reclaims exactly the orphaned and expired leases and never a running one', async () => {
    const { audit, core, ledger, snapshot } = audited();
    const running = holder('run');
    const orphan = holder('orphan');
    const stale = holder('stale', undefined, { timeoutMs: 10 });
    const aborted: string[] = [];
    orphan.abort = () => aborted.push('orphan');
    const keep = await core.acquire(running, { signal: signal().signal });
    await core.acquire(orphan, { signal: signal().signal });
    await core.acquire(stale, { signal: signal().signal });
    orphan.live = false;
    const report = await audit.run(Date.now() + 10_000);
    expect(report!.reclaimed.map((r) => [r.sessionId, r.reason]).sort()).toEqual([
      ['orphan', 'orphaned'],
      ['stale', 'expired'],
    ]);
    expect(aborted).toEqual(['orphan']);
    expect(ledger.all()).toEqual([keep]);
    await settle();
    expect((await ledger.counts()).get('global')).toBe(1);
    expect(audit.reclaimed).toEqual({ expired: 1, orphaned: 1, drift: 0 });
    expect((await snapshot.snapshot()).reclaimed).toEqual({ expired: 1, orphaned: 1, drift: 0 });
  });

  it('reclaims the permits of a release the backend lost, and repairs count drift', async () => {
    class LossyBackend extends MemoryConcurrencyBackend {
      loseNextRemove = false;
      override remove(leaseId: string, keys: readonly string[]): Promise<void> {
        if (!this.loseNextRemove) return super.remove(leaseId, keys);
        this.loseNextRemove = false;
        return Promise.reject(new Error('connection reset'));
      }
      skew(key: string, by: number) {
        this.counted.set(key, (this.counted.get(key) ?? 0) + by);
      }
    }
    const backend = new LossyBackend();
    const kit = concurrencyKit(LIMITS, backend);
    const tasks = new LeakAuditTasks(kit.config, kit.audit, kit.snapshot, kit.metrics, new SchedulerRegistry());
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const lease = await kit.core.acquire(holder('s'), { signal: signal().signal });
    backend.loseNextRemove = true;
    lease.release();
    await settle();
    expect(error).toHaveBeenCalledWith(expect.objectContaining({ msg: expect.stringMatching(/release failed/) }));
    backend.skew('global', 2);
    const report = await tasks.run();
    // Both of its permits (global and session), which no lease owns any more.
    expect(report!.reclaimed).toEqual([
      { leaseId: lease.id, reason: 'orphaned' },
      { leaseId: lease.id, reason: 'orphaned' },
    ]);
    // The permit is reclaimed first, so the set is empty and the count still says 2.
    expect(report!.drift).toEqual([{ key: 'global', counted: 2, actual: 0 }]);
    await settle();
    expect([...(await kit.ledger.counts()).values()]).toEqual([]);
    expect(kit.audit.reclaimed).toEqual({ expired: 0, orphaned: 2, drift: 1 });
    const metrics = await kit.metrics.render();
    expect(metrics).toMatch(/exai_leases_reclaimed_total\{reason="drift"\} 1/);
    expect(metrics).toMatch(/exai_leases_reclaimed_total\{reason="orphaned"\} 2/);
  });

  it('logs a passing check with every limit', async () => {
    const kit = audited();
    const tasks = new LeakAuditTasks(kit.config, kit.audit, kit.snapshot, kit.metrics, new SchedulerRegistry());
    const log = jest.spyOn(Logger.prototype, 'log');
    await tasks.run();
    expect(log).toHaveBeenCalledWith('SEMAPHORE HEALTH: check passed (global 0/3, GLM 0/1, KIMI 0/2, sessions 0)');
    expect(kit.audit.lastAuditAt).toEqual(expect.any(Date));
  });
});

describe('everySecondsCron', () => {
  it('maps intervals cron can express', () => {
    expect(everySecondsCron(60)).toBe('0 */1 * * * *');
    expect(everySecondsCron(15)).toBe('*/15 * * * * *');
    expect(everySecondsCron(300)).toBe('0 */5 * * * *');
    expect(everySecondsCron(45)).toBeUndefined();
  });
});
