import { Logger } from '@nestjs/common';
import { OverCapacityError } from '../src/concurrency/concurrency.errors';
import { Lease } from '../src/concurrency/lease';
import { everySecondsCron, LeakAuditTasks } from '../src/concurrency/leak-audit.tasks';
import { MemoryConcurrencyBackend } from '../src/concurrency/memory-concurrency.backend';
import { SchedulerRegistry } from '@nestjs/schedule';
import { concurrencyKit, holder, settle, SMALL_LIMITS } from './support/concurrency-kit';

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
    const { ledger, admission } = concurrencyKit(LIMITS);
    const glm = holder('s1', 'GLM');
    expect(await ledger.tryAcquire(glm, admission.slotsFor(glm))).toBeInstanceOf(Lease);
    const plain = holder('s1');
    expect(await ledger.tryAcquire(plain, admission.slotsFor(plain))).toBeInstanceOf(Lease);
    const kimi = holder('s1', 'KIMI');
    const third = await ledger.tryAcquire(kimi, admission.slotsFor(kimi));
    expect(third).toMatchObject({ ok: false, full: { name: 'session' } });
    const counts = await ledger.counts();
    expect(counts.get('global')).toBe(2);
    expect(counts.get('provider:GLM')).toBe(1);
    expect(counts.get('provider:KIMI')).toBeUndefined();
    expect(ledger.size).toBe(2);
  });

  it('derives counts from holders: release brings every key back to zero', async () => {
    const { ledger, admission } = concurrencyKit(LIMITS);
    const h = holder('s1', 'GLM');
    const lease = (await ledger.tryAcquire(h, admission.slotsFor(h))) as Lease;
    lease.release();
    lease.release();
    await settle();
    expect([...(await ledger.counts()).values()]).toEqual([]);
    expect(ledger.size).toBe(0);
  });
});

describe('AdmissionService', () => {
  it('admits at once when everything fits', async () => {
    const { admission, ledger } = concurrencyKit(LIMITS);
    const lease = await admission.acquire(holder('s1'), { signal: signal().signal });
    expect(ledger.get(lease.id)).toBe(lease);
  });

  it('queues a call that does not fit and reports its position and limit', async () => {
    const { admission } = concurrencyKit(LIMITS);
    await admission.acquire(holder('s1'), { signal: signal().signal });
    await admission.acquire(holder('s1'), { signal: signal().signal });
    const queued: Array<[number, string]> = [];
    const third = admission.acquire(holder('s1'), { signal: signal().signal, onQueued: (p, w) => queued.push([p, w]) });
    await settle();
    expect(queued).toEqual([[1, 'session']]);
    expect(admission.queued).toBe(1);
    third.catch(() => undefined);
  });

  it('fails fast with OVER_CAPACITY when the queue timeout is 0', async () => {
    const { admission, ledger } = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    await admission.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const err = await admission.acquire(holder('s2', 'GLM'), { signal: signal().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverCapacityError);
    expect((err as OverCapacityError).wireFields()).toMatchObject({ limit: 'GLM' });
    expect((err as OverCapacityError).retryAfterSecs).toBeGreaterThanOrEqual(1);
    expect((err as OverCapacityError).message).toBe('GLM concurrency limit reached; retry soon');
    expect(admission.queued).toBe(0);
    expect((await ledger.counts()).get('global')).toBe(1);
  });

  it('refuses past EXAI_WS_MAX_QUEUE', async () => {
    const { admission } = concurrencyKit({ ...LIMITS, EXAI_WS_MAX_QUEUE: '1' });
    await admission.acquire(holder('a', 'GLM'), { signal: signal().signal });
    admission.acquire(holder('b', 'GLM'), { signal: signal().signal }).catch(() => undefined);
    await settle();
    await expect(admission.acquire(holder('c', 'GLM'), { signal: signal().signal })).rejects.toBeInstanceOf(
      OverCapacityError,
    );
    expect(admission.queued).toBe(1);
  });

  it('charges nothing to a waiter cancelled while queued', async () => {
    const { admission, ledger } = concurrencyKit(LIMITS);
    const first = await admission.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const ctl = signal();
    const waiting = admission.acquire(holder('s2', 'GLM'), { signal: ctl.signal });
    await settle();
    ctl.abort(new Error('bye'));
    await expect(waiting).rejects.toThrow('bye');
    first.release();
    await settle();
    expect(ledger.size).toBe(0);
    expect(admission.queued).toBe(0);
  });

  it('does not let a waiter for a full provider block a waiter for another provider', async () => {
    const { admission } = concurrencyKit(LIMITS);
    const first = await admission.acquire(holder('s1', 'GLM'), { signal: signal().signal });
    const glmQueued: Array<[number, string]> = [];
    let glmState = 'pending';
    const glm = admission.acquire(holder('s2', 'GLM'), {
      signal: signal().signal,
      onQueued: (p, w) => glmQueued.push([p, w]),
    });
    glm.then(
      () => (glmState = 'admitted'),
      () => (glmState = 'rejected'),
    );
    const kimi = admission.acquire(holder('s3', 'KIMI'), { signal: signal().signal });
    await expect(kimi).resolves.toBeInstanceOf(Lease);
    await settle();
    // Still waiting (not refused) behind the full GLM limit.
    expect(glmState).toBe('pending');
    expect(glmQueued).toEqual([[1, 'GLM']]);
    expect(admission.queued).toBe(1);
    first.release();
    await expect(glm).resolves.toBeInstanceOf(Lease);
    expect(admission.queued).toBe(0);
  });

  it('serves sessions round-robin when slots free up', async () => {
    const { admission } = concurrencyKit({
      ...LIMITS,
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '1',
      EXAI_WS_SESSION_MAX_INFLIGHT: '5',
    });
    const blocker = await admission.acquire(holder('x'), { signal: signal().signal });
    const order: string[] = [];
    const want = ['a1', 'a2', 'a3', 'b1', 'c1', 'b2'];
    const leases = new Map(
      want.map((tag) => [
        tag,
        admission.acquire(holder(tag[0]), { signal: signal().signal }).then((l) => {
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
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
    try {
      const { admission } = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '20' });
      // Nothing released yet: nothing to estimate from, so the bound (the queue timeout).
      expect(admission.retryAfter(1)).toBe(20);
      // Ten calls that each held their permit for 4 s.
      for (let i = 0; i < 10; i++) {
        now.mockReturnValue(1_000_000 + i * 5000);
        const lease = await admission.acquire(holder(`s${i}`), { signal: signal().signal });
        now.mockReturnValue(1_000_000 + i * 5000 + 4000);
        lease.release();
        await settle();
      }
      // A permit of global 3 frees about every 4/3 s.
      expect(admission.retryAfter(1)).toBe(2);
      expect(admission.retryAfter(6)).toBe(8);
      expect(admission.retryAfter(3, 1)).toBe(12);
      expect(admission.retryAfter(10_000)).toBe(20);
      // Long after the last release the estimate does not grow: it is about hold times, not release rate.
      now.mockReturnValue(1_000_000 + 9 * 5000 + 4000 + 55_000);
      expect(admission.retryAfter(1)).toBe(2);
    } finally {
      now.mockRestore();
    }
  });

  it('caps retry_after at 300 s and at a queue timeout of 0 answers 1 s', async () => {
    const long = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '3600' });
    expect(long.admission.retryAfter(10_000)).toBe(300);
    const none = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    (await none.admission.acquire(holder('s'), { signal: signal().signal })).release();
    await settle();
    expect(none.admission.retryAfter(10_000)).toBe(1);
  });

  it('reports the queue ahead on the same limit in retry_after', async () => {
    const now = jest.spyOn(Date, 'now').mockReturnValue(2_000_000);
    try {
      const { admission } = concurrencyKit({ ...LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '100', EXAI_WS_MAX_QUEUE: '3' });
      // GLM (capacity 1) held 10 s once, then held again; three GLM waiters queue behind it.
      const first = await admission.acquire(holder('a', 'GLM'), { signal: signal().signal });
      now.mockReturnValue(2_010_000);
      first.release();
      await settle();
      await admission.acquire(holder('a', 'GLM'), { signal: signal().signal });
      for (const s of ['b', 'c', 'd'])
        admission.acquire(holder(s, 'GLM'), { signal: signal().signal }).catch(() => undefined);
      await settle();
      // The fourth waiter overflows the queue: three ahead of it plus itself, 10 s each.
      const err = (await admission
        .acquire(holder('e', 'GLM'), { signal: signal().signal })
        .catch((e: unknown) => e)) as OverCapacityError;
      expect(err.wireFields()).toEqual({ limit: 'GLM', retry_after: 40 });
    } finally {
      now.mockRestore();
    }
  });
});

describe('LeakAuditTasks', () => {
  function audit(env = LIMITS) {
    const kit = concurrencyKit(env);
    const tasks = new LeakAuditTasks(kit.config, kit.ledger, kit.snapshot, kit.metrics, new SchedulerRegistry());
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    return { ...kit, tasks };
  }
  afterEach(() => jest.restoreAllMocks());

  it('reclaims exactly the orphaned and expired leases and never a running one', async () => {
    const { tasks, admission, ledger, snapshot } = audit();
    const running = holder('run');
    const orphan = holder('orphan');
    const stale = holder('stale', undefined, { timeoutMs: 10 });
    const aborted: string[] = [];
    orphan.abort = () => aborted.push('orphan');
    const keep = await admission.acquire(running, { signal: signal().signal });
    await admission.acquire(orphan, { signal: signal().signal });
    await admission.acquire(stale, { signal: signal().signal });
    orphan.live = false;
    const report = await tasks.run(Date.now() + 10_000);
    expect(report!.reclaimed.map((r) => [r.sessionId, r.reason]).sort()).toEqual([
      ['orphan', 'orphaned'],
      ['stale', 'expired'],
    ]);
    expect(aborted).toEqual(['orphan']);
    expect(ledger.all()).toEqual([keep]);
    await settle();
    expect((await ledger.counts()).get('global')).toBe(1);
    expect((await snapshot.snapshot()).reclaimed).toEqual({ expired: 1, orphaned: 1, drift: 0 });
  });

  it('reclaims a lease whose release was skipped, and repairs count drift', async () => {
    class SkewableBackend extends MemoryConcurrencyBackend {
      skew(key: string, by: number) {
        this.counted.set(key, (this.counted.get(key) ?? 0) + by);
      }
    }
    const backend = new SkewableBackend();
    const kit = concurrencyKit(LIMITS, backend);
    const tasks = new LeakAuditTasks(kit.config, kit.ledger, kit.snapshot, kit.metrics, new SchedulerRegistry());
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const lease = await kit.admission.acquire(holder('s'), { signal: signal().signal });
    jest.spyOn(kit.ledger, 'release').mockImplementationOnce(() => undefined);
    lease.release();
    backend.skew('global', 2);
    const report = await tasks.run();
    expect(report!.reclaimed).toEqual([expect.objectContaining({ leaseId: lease.id, reason: 'orphaned' })]);
    // The orphan is reclaimed first, so the set is empty and the count still says 2.
    expect(report!.drift).toEqual([{ key: 'global', counted: 2, actual: 0 }]);
    await settle();
    expect([...(await kit.ledger.counts()).values()]).toEqual([]);
    expect(await kit.metrics.render()).toMatch(/exai_leases_reclaimed_total\{reason="drift"\} 1/);
  });

  it('logs a passing check with every limit', async () => {
    const { tasks } = audit();
    const log = jest.spyOn(Logger.prototype, 'log');
    await tasks.run();
    expect(log).toHaveBeenCalledWith('SEMAPHORE HEALTH: check passed (global 0/3, GLM 0/1, KIMI 0/2, sessions 0)');
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
