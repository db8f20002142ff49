import fc from 'fast-check';
import type { Lease } from '../src/concurrency/lease';
import { concurrencyKit, holder, settle, SMALL_LIMITS } from './support/concurrency-kit';

const LIMITS = SMALL_LIMITS;
const SESSIONS = ['s0', 's1', 's2', 's3'];
const PROVIDERS = [undefined, 'GLM', 'KIMI'] as const;

type Op =
  | { kind: 'acquire'; session: number; provider: number }
  | { kind: 'release' | 'doubleRelease' | 'abortRunning' | 'toolThrows' | 'deadline' | 'cancelQueued'; pick: number }
  | { kind: 'disconnect'; session: number };

interface Call {
  seq: number;
  session: string;
  provider: string | undefined;
  ctl: AbortController;
  state: 'pending' | 'admitted' | 'done';
  lease?: Lease;
  admittedAt?: number;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('acquire' as const), session: fc.nat(3), provider: fc.nat(2) }),
  },
  ...(['release', 'doubleRelease', 'abortRunning', 'toolThrows', 'deadline', 'cancelQueued'] as const).map((kind) => ({
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant(kind), pick: fc.nat(50) }),
  })),
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), session: fc.nat(3) }) },
);

describe('admission under random interleavings (fast-check)', () => {
  it('keeps in-flight equal to live leases, within capacity, fair and work-conserving; drains to zero', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
        const { admission, ledger, config } = concurrencyKit(LIMITS);
        const calls: Call[] = [];
        let admissions = 0;
        let seq = 0;
        const pick = (state: Call['state'], n: number) => {
          const matching = calls.filter((c) => c.state === state);
          return matching.length ? matching[n % matching.length] : undefined;
        };
        const finish = (call: Call | undefined, abortFirst: boolean) => {
          if (!call) return;
          // The lifecycle aborts the tool, then releases the lease.
          if (abortFirst) call.ctl.abort(new Error('aborted'));
          call.lease!.release();
          call.state = 'done';
        };

        for (const op of ops) {
          switch (op.kind) {
            case 'acquire': {
              const call: Call = {
                seq: ++seq,
                session: SESSIONS[op.session],
                provider: PROVIDERS[op.provider],
                ctl: new AbortController(),
                state: 'pending',
              };
              calls.push(call);
              admission.acquire(holder(call.session, call.provider), { signal: call.ctl.signal }).then(
                (lease) => {
                  call.lease = lease;
                  call.state = 'admitted';
                  call.admittedAt = ++admissions;
                },
                () => (call.state = 'done'),
              );
              break;
            }
            case 'release':
            case 'toolThrows':
              finish(pick('admitted', op.pick), false);
              break;
            case 'doubleRelease': {
              const call = pick('admitted', op.pick);
              finish(call, false);
              expect(call?.lease?.release() ?? false).toBe(false);
              break;
            }
            case 'abortRunning':
            case 'deadline':
              finish(pick('admitted', op.pick), true);
              break;
            case 'cancelQueued':
              pick('pending', op.pick)?.ctl.abort(new Error('cancelled'));
              break;
            case 'disconnect':
              for (const call of calls.filter((c) => c.session === SESSIONS[op.session])) {
                if (call.state === 'pending') call.ctl.abort(new Error('disconnected'));
                if (call.state === 'admitted') finish(call, true);
              }
              break;
          }
          await settle();
          await checkInvariants(calls);
        }

        for (const call of calls) {
          if (call.state === 'pending') call.ctl.abort(new Error('quiesce'));
        }
        await settle();
        for (const call of calls) if (call.state === 'admitted') finish(call, false);
        await settle();
        expect(calls.every((c) => c.state === 'done')).toBe(true);
        expect(ledger.size).toBe(0);
        expect(admission.queued).toBe(0);
        expect([...(await ledger.counts()).values()].every((n) => n === 0)).toBe(true);

        async function checkInvariants(all: Call[]) {
          const counts = await ledger.counts();
          const members = await ledger.members();
          const live = ledger.all();
          const admitted = all.filter((c) => c.state === 'admitted');
          expect(new Set(live)).toEqual(new Set(admitted.map((c) => c.lease)));
          const expected = new Map<string, number>();
          for (const lease of live) for (const s of lease.slots) expected.set(s.key, (expected.get(s.key) ?? 0) + 1);
          for (const key of new Set([...counts.keys(), ...expected.keys()])) {
            expect([key, counts.get(key) ?? 0]).toEqual([key, expected.get(key) ?? 0]);
            expect(members.get(key)?.size ?? 0).toBe(expected.get(key) ?? 0);
          }
          const cap = (key: string) =>
            key === 'global'
              ? config.limits.global
              : key.startsWith('session:')
                ? config.limits.session
                : config.limits.providers[key.slice('provider:'.length)];
          for (const [key, n] of counts) expect(n).toBeLessThanOrEqual(cap(key));

          // Work conservation: a waiter still queued does not fit anywhere.
          for (const call of all.filter((c) => c.state === 'pending')) {
            const slots = admission.slotsFor({ sessionId: call.session, provider: call.provider });
            expect(slots.some((s) => (counts.get(s.key) ?? 0) >= s.capacity)).toBe(true);
          }
          // Fit order: calls of one session needing the same limits are admitted in arrival order.
          const admittedOnes = all.filter((c) => c.admittedAt !== undefined);
          for (const a of admittedOnes) {
            for (const b of admittedOnes) {
              if (a.session === b.session && a.provider === b.provider && a.seq < b.seq) {
                expect(a.admittedAt!).toBeLessThan(b.admittedAt!);
              }
            }
            const olderStillWaiting = all.some(
              (o) => o.state === 'pending' && o.session === a.session && o.provider === a.provider && o.seq < a.seq,
            );
            expect(olderStillWaiting).toBe(false);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
