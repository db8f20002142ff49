import { Logger } from '@nestjs/common';
import fc from 'fast-check';
import Redis from 'ioredis';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import type { ConcurrencyBackend } from '../src/concurrency/concurrency-backend';
import { LeaseReclaimedError } from '../src/concurrency/concurrency.errors';
import type { Lease } from '../src/concurrency/lease';
import { MemoryConcurrencyBackend } from '../src/concurrency/memory-concurrency.backend';
import { RedisConcurrencyBackend } from '../src/concurrency/redis/redis-concurrency.backend';
import { concurrencyKit, holder, settle, SMALL_LIMITS } from './support/concurrency-kit';
import { TestRedis } from './support/redis';

const SESSIONS = ['s0', 's1', 's2', 's3'];
const PROVIDERS = [undefined, 'GLM', 'KIMI'] as const;
/** With one global permit every waiter fits whenever anyone does, so service order is pure round-robin. */
const ONE_PERMIT = { ...SMALL_LIMITS, EXAI_WS_GLOBAL_MAX_INFLIGHT: '1' };
const HOUR_MS = 3_600_000;

type EndOp = 'release' | 'toolThrows' | 'abortRunning' | 'deadline' | 'leak' | 'doubleRelease' | 'cancelQueued';
type Op =
  | { kind: 'acquire'; session: number; provider: number }
  | { kind: EndOp; pick: number }
  | { kind: 'disconnect'; session: number };

type Outcome = 'success' | 'error' | 'cancelled' | 'expired' | 'orphaned' | 'refused';

interface Call {
  seq: number;
  session: string;
  provider: string | undefined;
  ctl: AbortController;
  state: 'pending' | 'admitted' | 'done';
  holder: ReturnType<typeof holder>;
  lease?: Lease;
  admittedAt?: number;
  /** Settles the running tool: resolve = it returned, reject = it threw. */
  tool?: { resolve(): void; reject(err: Error): void };
  /** The lifecycle lost this lease (never releases it): only the audit can get it back. */
  leaked?: boolean;
  outcome?: Outcome;
  expected?: Outcome;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('acquire' as const), session: fc.nat(3), provider: fc.nat(2) }),
  },
  ...(['release', 'toolThrows', 'abortRunning', 'deadline', 'leak', 'doubleRelease', 'cancelQueued'] as const).map(
    (kind) => ({ weight: 2, arbitrary: fc.record({ kind: fc.constant(kind), pick: fc.nat(50) }) }),
  ),
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), session: fc.nat(3) }) },
);

function outcomeOf(err: unknown): Outcome {
  if (err instanceof LeaseReclaimedError) return /expired/.test(err.message) ? 'expired' : 'orphaned';
  return (err as Error).message === 'tool threw' ? 'error' : 'cancelled';
}

/**
 * Counts backend calls still in flight, so a test on a real Redis can wait
 * until admission has settled instead of sleeping.
 */
function tracked<B extends ConcurrencyBackend>(backend: B): B & { inFlight: () => number } {
  let open = 0;
  const wrap = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    ((...a: A) => {
      open++;
      return fn.apply(backend, a).finally(() => open--);
    }) as (...a: A) => Promise<R>;
  backend.tryAdmit = wrap(backend.tryAdmit);
  backend.remove = wrap(backend.remove);
  return Object.assign(backend, { inFlight: () => open });
}

async function quiesce(backend: { inFlight: () => number }): Promise<void> {
  for (let idle = 0; idle < 2;) {
    await settle();
    if (backend.inFlight() === 0) idle++;
    else {
      idle = 0;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

/**
 * One random run: calls go through a small lifecycle shaped like the gateway's
 * (admit, run the tool under its signal, release on every ending), and each
 * op ends a call the way its name says. Invariants are checked after every op.
 */
async function runOps(ops: Op[], env: Record<string, string>, backend: ConcurrencyBackend): Promise<void> {
  const store = tracked(backend);
  const { core, ledger, config, audit } = concurrencyKit(env, store);
  const calls: Call[] = [];
  const log: Array<{ call: Call; waiting: Set<Call> }> = [];
  let seq = 0;
  const pick = (state: Call['state'], n: number) => {
    const matching = calls.filter((c) => c.state === state && !c.leaked);
    return matching.length ? matching[n % matching.length] : undefined;
  };
  const waitingNow = (except?: Call) =>
    new Set(calls.filter((c) => c !== except && c.state === 'pending' && !c.ctl.signal.aborted));

  const start = (call: Call) => {
    core.acquire(call.holder, { signal: call.ctl.signal }).then(
      (lease) => {
        call.lease = lease;
        call.state = 'admitted';
        call.admittedAt = log.length + 1;
        log.push({ call, waiting: waitingNow(call) });
        void new Promise<void>((resolve, reject) => {
          call.tool = { resolve, reject };
          call.ctl.signal.addEventListener('abort', () => reject(call.ctl.signal.reason as Error), { once: true });
        })
          .then(
            () => 'success' as const,
            (err: unknown) => outcomeOf(err),
          )
          .then((outcome) => {
            call.outcome = outcome;
            // The lifecycle gives the lease back on every ending, unless it lost it.
            if (!call.leaked) {
              call.holder.live = false;
              lease.release();
            }
            call.state = 'done';
          });
      },
      () => {
        call.outcome = 'refused';
        call.state = 'done';
      },
    );
  };

  const auditAt = async (now: number, expected: Call[], reason: 'expired' | 'orphaned') => {
    const report = await audit.run(now);
    expect(report!.reclaimed.map((r) => [r.leaseId, r.reason]).sort()).toEqual(
      expected.map((c) => [c.lease!.id, reason]).sort(),
    );
    for (const c of expected) c.expected = reason;
  };

  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'acquire': {
          const call: Call = {
            seq: ++seq,
            session: SESSIONS[op.session],
            provider: PROVIDERS[op.provider],
            ctl: new AbortController(),
            state: 'pending',
            holder: holder(SESSIONS[op.session], PROVIDERS[op.provider]),
          };
          // Deadlines an hour apart, so a clock at one call's expiry has passed no younger call's.
          call.holder.timeoutMs = call.seq * HOUR_MS;
          call.holder.abort = (reason) => call.ctl.abort(reason);
          calls.push(call);
          start(call);
          break;
        }
        case 'release':
        case 'doubleRelease': {
          const call = pick('admitted', op.pick);
          if (!call) break;
          call.expected = 'success';
          call.tool!.resolve();
          if (op.kind === 'doubleRelease') {
            await quiesce(store);
            expect(call.lease!.release()).toBe(false);
          }
          break;
        }
        case 'toolThrows': {
          const call = pick('admitted', op.pick);
          if (!call) break;
          call.expected = 'error';
          call.tool!.reject(new Error('tool threw'));
          break;
        }
        case 'abortRunning': {
          const call = pick('admitted', op.pick);
          if (!call) break;
          call.expected = 'cancelled';
          call.ctl.abort(new Error('cancelled by the client'));
          break;
        }
        case 'deadline': {
          // The call's deadline passes while its tool ignores the abort: the audit's
          // clock is past its lease expiry, so it (and any older deadline) is reclaimed.
          const call = pick('admitted', op.pick);
          if (!call) break;
          const now = call.lease!.expiresAt;
          const due = calls.filter((c) => c.state === 'admitted' && !c.leaked && c.lease!.expiresAt <= now);
          await auditAt(now, due, 'expired');
          break;
        }
        case 'leak': {
          // The lifecycle loses the lease: the call is over but never released it.
          const call = pick('admitted', op.pick);
          if (!call) break;
          call.leaked = true;
          call.holder.live = false;
          await auditAt(Date.now(), [call], 'orphaned');
          break;
        }
        case 'cancelQueued': {
          const call = pick('pending', op.pick);
          if (!call) break;
          call.expected = 'refused';
          call.ctl.abort(new Error('cancelled'));
          break;
        }
        case 'disconnect':
          for (const call of calls.filter((c) => c.session === SESSIONS[op.session] && c.state !== 'done')) {
            if (!call.expected) call.expected = call.state === 'pending' ? 'refused' : 'cancelled';
            call.ctl.abort(new Error('disconnected'));
          }
          break;
      }
      await quiesce(store);
      await checkInvariants();
    }

    for (const call of calls) if (call.state === 'pending') call.ctl.abort(new Error('quiesce'));
    await quiesce(store);
    for (const call of calls) if (call.state === 'admitted' && !call.leaked) call.tool!.resolve();
    await quiesce(store);
    expect(calls.filter((c) => c.state !== 'done' && !c.leaked)).toEqual([]);
    expect(ledger.size).toBe(0);
    expect(core.queued).toBe(0);
    expect([...(await ledger.counts()).values()].every((n) => n === 0)).toBe(true);
  } finally {
    // A failed run must not leave waiters (and their queue timers) behind.
    for (const call of calls) call.ctl.abort(new Error('run over'));
    core.close(new Error('run over'));
  }

  async function checkInvariants() {
    const counts = await ledger.counts();
    const members = await backend.members();
    const live = ledger.all();
    const admitted = calls.filter(
      (c) => c.state === 'admitted' && c.expected !== 'expired' && c.expected !== 'orphaned',
    );
    expect(new Set(live)).toEqual(new Set(admitted.map((c) => c.lease)));
    // Every call that ended, ended the way its op said.
    for (const c of calls)
      if (c.state === 'done' && c.expected) expect([c.seq, c.outcome]).toEqual([c.seq, c.expected]);
    const expected = new Map<string, number>();
    for (const lease of live) for (const s of lease.slots) expected.set(s.key, (expected.get(s.key) ?? 0) + 1);
    for (const key of new Set([...counts.keys(), ...expected.keys()])) {
      expect([key, counts.get(key) ?? 0]).toEqual([key, expected.get(key) ?? 0]);
      expect([key, members.get(key)?.size ?? 0]).toEqual([key, expected.get(key) ?? 0]);
    }
    const cap = (key: string) =>
      key === 'global'
        ? config.limits.global
        : key.startsWith('session:')
          ? config.limits.session
          : config.limits.providers[key.slice('provider:'.length)];
    for (const [key, n] of counts) expect(n).toBeLessThanOrEqual(cap(key));

    // Work conservation: a waiter still queued does not fit anywhere.
    for (const call of calls.filter((c) => c.state === 'pending')) {
      const slots = core.slotsFor({ sessionId: call.session, provider: call.provider });
      expect(slots.some((s) => (counts.get(s.key) ?? 0) >= s.capacity)).toBe(true);
    }
    // Fit order: calls of one session needing the same limits are admitted in arrival order.
    const admittedOnes = calls.filter((c) => c.admittedAt !== undefined);
    for (const a of admittedOnes) {
      for (const b of admittedOnes) {
        if (a.session === b.session && a.provider === b.provider && a.seq < b.seq) {
          expect(a.admittedAt!).toBeLessThan(b.admittedAt!);
        }
      }
      const olderStillWaiting = calls.some(
        (o) => o.state === 'pending' && o.session === a.session && o.provider === a.provider && o.seq < a.seq,
      );
      expect(olderStillWaiting).toBe(false);
    }
    // Fairness (round-robin across sessions), where every waiter fits as soon as
    // anyone does: between two admissions of session A, every other session that
    // was waiting throughout is served. B's first waiter goes before A's second.
    if (config.limits.global === 1) {
      const skipped: string[] = [];
      for (let i = 0; i < log.length; i++) {
        const a = log[i].call.session;
        const j = log.findIndex((e, k) => k > i && e.call.session === a);
        if (j < 0) continue;
        for (const w of log[i].waiting) {
          if (w.session === a || !log[j].waiting.has(w)) continue;
          if (!log.slice(i + 1, j).some((e) => e.call.session === w.session))
            skipped.push(`${w.session} waited while ${a} was admitted twice (admissions ${i + 1} and ${j + 1})`);
        }
      }
      expect(skipped).toEqual([]);
    }
  }
}

/** Always tried first: A holds the permit with two more queued, then B queues; B's first goes before A's second. */
const FAIRNESS_EXAMPLE: [Op[]] = [
  [
    { kind: 'acquire', session: 0, provider: 0 },
    { kind: 'acquire', session: 0, provider: 0 },
    { kind: 'acquire', session: 0, provider: 0 },
    { kind: 'acquire', session: 1, provider: 0 },
    { kind: 'release', pick: 0 },
    { kind: 'toolThrows', pick: 0 },
    { kind: 'abortRunning', pick: 0 },
  ],
];

const CONFIGS = [
  ['global 3, session 2, GLM 1, KIMI 2', SMALL_LIMITS],
  ['one global permit (round-robin fairness)', ONE_PERMIT],
] as const;

describe('admission under random interleavings (fast-check)', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  describe('in-memory backend', () => {
    it.each(CONFIGS)(
      '%s: in-flight equals live leases, within capacity, fair and work-conserving; drains to zero',
      async (_label, env) => {
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) =>
            runOps(ops, env, new MemoryConcurrencyBackend()),
          ),
          { numRuns: 200, examples: [FAIRNESS_EXAMPLE] },
        );
      },
      60_000,
    );
  });

  describe('Redis backend (a real redis-server)', () => {
    let redis: TestRedis;
    let admin: Redis;
    beforeAll(async () => {
      redis = await TestRedis.start();
      admin = new Redis(redis.url);
    });
    afterAll(async () => {
      admin.disconnect();
      await redis.stop();
    });

    it.each(CONFIGS)(
      '%s: the same properties hold with the limits in Redis',
      async (_label, env) => {
        const config = toConcurrencyConfig({ ...env, EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: redis.url });
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
            await admin.flushall();
            const backend = new RedisConcurrencyBackend(config);
            await backend.onModuleInit();
            try {
              await runOps(ops, env, backend);
            } finally {
              await backend.onModuleDestroy();
            }
          }),
          { numRuns: 150, examples: [FAIRNESS_EXAMPLE] },
        );
      },
      120_000,
    );
  });
});
