import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import type { AdmitResult } from '../src/concurrency/concurrency-backend';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import type { LimitSlot } from '../src/concurrency/lease';
import { RedisConcurrencyBackend } from '../src/concurrency/redis/redis-concurrency.backend';
import { concurrencyKit, holder } from './support/concurrency-kit';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestRedis } from './support/redis';
import { waitFor } from './support/wait';
import { Frame, TestClient, toolOutput } from './support/ws-client';

function redisConfig(url: string, env: Record<string, string> = {}) {
  return toConcurrencyConfig({ EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: url, ...env });
}

/** A one-shot pause in the backend, so a test can hold a release (or a read) at the racy moment. */
class PausableBackend extends RedisConcurrencyBackend {
  pauseNext: 'remove' | 'members' | undefined;
  isPaused = false;
  private resume: (() => void) | undefined;

  continue(): void {
    this.isPaused = false;
    this.resume?.();
  }

  private pause(): Promise<void> {
    this.pauseNext = undefined;
    this.isPaused = true;
    return new Promise<void>((r) => (this.resume = r));
  }

  override async remove(leaseId: string, keys: readonly string[]): Promise<void> {
    if (this.pauseNext === 'remove') await this.pause();
    return super.remove(leaseId, keys);
  }

  override async members(): Promise<Map<string, Set<string>>> {
    const members = await super.members();
    if (this.pauseNext === 'members') await this.pause();
    return members;
  }
}

/** Holds the answer to the next admission attempt until a test hook has run. */
class SlowAnswerBackend extends RedisConcurrencyBackend {
  beforeNextAnswer: (() => Promise<void>) | undefined;

  override async tryAdmit(leaseId: string, slots: readonly LimitSlot[]): Promise<AdmitResult> {
    const result = await super.tryAdmit(leaseId, slots);
    const hook = this.beforeNextAnswer;
    this.beforeNextAnswer = undefined;
    if (hook) await hook();
    return result;
  }
}

describe('Redis mode keeps its limits: restarts, pruning, expiry, audit races, retry_after', () => {
  let redis: TestRedis;
  let admin: Redis;
  beforeAll(async () => {
    redis = await TestRedis.start();
    admin = new Redis(redis.url);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  beforeEach(async () => {
    await admin.flushall();
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
    jest.restoreAllMocks();
  });

  const daemonEnv = (extra: Record<string, string> = {}) => ({
    EXAI_CONCURRENCY_BACKEND: 'redis',
    REDIS_URL: redis.url,
    EXAI_PROVIDERS_MODE: 'simulated',
    EXAI_LEASE_TTL_SECS: '2',
    ...extra,
  });

  it('after a Redis restart, running calls win their permits back or are aborted: never more leases than the limit', async () => {
    const env = daemonEnv({
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '3',
      EXAI_WS_SESSION_MAX_INFLIGHT: '10',
      EXAI_WS_QUEUE_TIMEOUT_SECS: '60',
    });
    const daemons: TestDaemon[] = [await startTestDaemon(env), await startTestDaemon(env)];
    const [a, b] = daemons;
    const leases = async () => {
      const [sa, sb] = await Promise.all(daemons.map((d) => d.app.get(ConcurrencySnapshotService).snapshot()));
      return sa.leases + sb.leases;
    };
    try {
      const ca = await TestClient.ready(a.url, { session_id: 'on-a' });
      const cb = await TestClient.ready(b.url, { session_id: 'on-b' });
      for (let i = 0; i < 3; i++) {
        ca.send({ op: 'call_tool', request_id: `a${i}`, name: 'test_gate', arguments: { gate: `ra${i}` } });
        await ca.next((f) => f.op === 'call_tool_ack' && f.request_id === `a${i}`);
      }
      expect(await admin.zcard('{exai}:limit:global')).toBe(3);

      // No persistence: Redis comes back empty while A's three calls keep running.
      await redis.stop();
      await redis.launch();
      await waitFor(async () => (await fetch(`${b.httpUrl}/health/ready`)).status === 200, 10_000, 'B back on Redis');
      for (let i = 0; i < 3; i++)
        cb.send({ op: 'call_tool', request_id: `b${i}`, name: 'test_gate', arguments: { gate: `rb${i}` } });
      // Counted only once B has tried to admit each call (planning is async and
      // reads Redis first): before that, A's 3 stale leases alone read as "3".
      for (let i = 0; i < 3; i++) {
        await cb.next((f) => f.request_id === `b${i}` && (f.op === 'call_tool_ack' || f.note === 'queued'), 10_000);
      }

      // Within one refresh (TTL/3) A has either taken its permits back (B's calls
      // wait) or lost them (A's calls end with OVER_CAPACITY): 3 leases, not 6.
      await waitFor(async () => (await leases()) <= 3, 10_000, 'the daemons to agree on 3 leases').catch(
        async (err: Error) => {
          throw new Error(`${err.message}: they hold ${await leases()} against a global limit of 3`);
        },
      );
      const held = await leases();
      expect(held).toBeLessThanOrEqual(3);
      expect(await admin.zcard('{exai}:limit:global')).toBe(held);
      const aborted = ca.frames.filter((f) => f.op === 'call_tool_res');
      for (const res of aborted) expect(res.error).toMatchObject({ code: 'OVER_CAPACITY', limit: 'global' });

      for (let i = 0; i < 3; i++) {
        a.probe.open(`ra${i}`);
        b.probe.open(`rb${i}`);
      }
      const results: Frame[] = [];
      for (let i = 0; i < 3; i++) results.push(await ca.result(`a${i}`, 10_000), await cb.result(`b${i}`, 10_000));
      const ran = results.filter((r) => !r.error);
      for (const r of ran) expect(toolOutput(r).content).toMatch(/^gate r[ab]\d opened$/);
      // B's three calls all ran (queued or not); A's ran unless they lost their permit.
      expect(ran.length).toBe(6 - aborted.length);
      ca.close();
      cb.close();
      await waitFor(async () => (await leases()) === 0, 10_000, 'all leases released');
    } finally {
      for (const d of daemons) await d.close();
    }
  }, 60_000);

  it('after a Redis restart with nobody else waiting, running calls take their permits back and keep running', async () => {
    const d = await startTestDaemon(
      daemonEnv({
        EXAI_WS_GLOBAL_MAX_INFLIGHT: '2',
        EXAI_WS_SESSION_MAX_INFLIGHT: '10',
        EXAI_WS_QUEUE_TIMEOUT_SECS: '0',
      }),
    );
    try {
      const c = await TestClient.ready(d.url, { session_id: 'survivor' });
      for (let i = 0; i < 2; i++) {
        c.send({ op: 'call_tool', request_id: `s${i}`, name: 'test_gate', arguments: { gate: `survive${i}` } });
        await c.next((f) => f.op === 'call_tool_ack' && f.request_id === `s${i}`);
      }
      await redis.stop();
      await redis.launch();
      await waitFor(
        async () => (await admin.zcard('{exai}:limit:global')) === 2,
        10_000,
        'the running calls to be admitted again',
      );
      expect(await admin.zcard('{exai}:limit:session:survivor')).toBe(2);
      // The limit holds again: a third call is refused at once.
      c.send({ op: 'call_tool', request_id: 'third', name: 'test_echo', arguments: { text: 'third' } });
      expect((await c.result('third')).error).toMatchObject({ code: 'OVER_CAPACITY', limit: 'global' });
      for (let i = 0; i < 2; i++) {
        d.probe.open(`survive${i}`);
        expect(toolOutput(await c.result(`s${i}`)).content).toBe(`gate survive${i} opened`);
      }
      c.close();
    } finally {
      await d.close();
    }
  }, 30_000);

  it('a permit Redis lost while the limit filled up meanwhile: the call ends OVER_CAPACITY and exai_leases_lost_total counts it', async () => {
    const d = await startTestDaemon(
      daemonEnv({
        EXAI_WS_GLOBAL_MAX_INFLIGHT: '1',
        EXAI_WS_SESSION_MAX_INFLIGHT: '10',
        EXAI_WS_QUEUE_TIMEOUT_SECS: '0',
      }),
    );
    try {
      const metric = async () =>
        /^exai_leases_lost_total\{limit="global"\} (\d+)$/m.exec(
          await (await fetch(`${d.httpUrl}/metrics`)).text(),
        )?.[1];
      expect(await metric()).toBe('0');
      const c = await TestClient.ready(d.url, { session_id: 'loser' });
      c.send({ op: 'call_tool', request_id: 'held', name: 'test_gate', arguments: { gate: 'lost' } });
      await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'held');
      // Redis forgets the daemon's permit, and another daemon's call takes the only one.
      await admin.flushall();
      await admin.zadd('{exai}:limit:global', Date.now() + 60_000, 'elsewhere:taken');
      const res = await c.result('held', 10_000);
      expect(res.error).toMatchObject({
        code: 'OVER_CAPACITY',
        limit: 'global',
        message: expect.stringMatching(/permit lost/) as unknown,
      });
      expect(await metric()).toBe('1');
      c.close();
    } finally {
      await d.close();
    }
  }, 30_000);

  it('per-session keys of a killed daemon expire from Redis instead of staying forever', async () => {
    const key = 'session:killed-daemon';
    const proc = spawn(process.execPath, [join(__dirname, 'fixtures', 'redis-holder.js'), redis.url, '1', key, '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('holder did not take the permit')), 10_000);
        proc.stdout.on('data', (d: Buffer) => d.toString().includes('HELD') && (clearTimeout(timer), resolve()));
      });
      expect(await admin.exists(`{exai}:limit:${key}`)).toBe(1);
      proc.kill('SIGKILL');
      await waitFor(
        async () => (await admin.exists(`{exai}:limit:${key}`)) === 0,
        15_000,
        'the dead session key to expire',
      );
      // Keys of live leases do not expire under them: every refresh pushes the key's expiry on.
      const b = new RedisConcurrencyBackend(
        redisConfig(redis.url, { EXAI_LEASE_TTL_SECS: '1', EXAI_LEAK_AUDIT_INTERVAL_SECS: '1' }),
      );
      await b.onModuleInit();
      try {
        const admittedAt = Date.now();
        expect(await b.tryAdmit('alive', [{ key: 'session:alive', name: 'session', capacity: 1 }])).toEqual({
          ok: true,
        });
        // Admitted with key expiry TTL + audit interval = 2 s; what is tested is that time passing.
        await waitFor(() => Date.now() - admittedAt > 3000, 5000, 'the first key expiry to pass');
        expect(await admin.zscore('{exai}:limit:session:alive', `${b.daemonId}:alive`)).not.toBeNull();
        expect(await admin.pttl('{exai}:limit:session:alive')).toBeGreaterThan(0);
      } finally {
        await b.onModuleDestroy();
      }
    } finally {
      proc.kill('SIGKILL');
    }
  }, 30_000);

  it('watches only limit keys in use: 2,000 sessions come and go and counts still read a handful of keys', async () => {
    const b = new RedisConcurrencyBackend(redisConfig(redis.url));
    await b.onModuleInit();
    try {
      const slots = (i: number) => [
        { key: 'global', name: 'global', capacity: 10 },
        { key: `session:seen-${i}`, name: 'session', capacity: 1 },
      ];
      for (let i = 0; i < 2000; i++) {
        expect(await b.tryAdmit(`l${i}`, slots(i))).toEqual({ ok: true });
        await b.remove(
          `l${i}`,
          slots(i).map((s) => s.key),
        );
      }
      expect(await b.tryAdmit('live', slots(5000))).toEqual({ ok: true });
      const counts = await b.counts();
      // global, the two configured providers and the one session with a live lease.
      expect([...counts.keys()].sort()).toEqual(['global', 'provider:GLM', 'provider:KIMI', 'session:seen-5000']);
      expect(counts.get('session:seen-5000')).toBe(1);
      expect((await b.members()).get('session:seen-5000')).toEqual(new Set(['live']));
    } finally {
      await b.onModuleDestroy();
    }
  }, 60_000);

  describe('the leak audit does not race normal releases', () => {
    async function kitWithAudit() {
      const config = redisConfig(redis.url);
      const backend = new PausableBackend(config);
      await backend.onModuleInit();
      const kit = concurrencyKit({ EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: redis.url }, backend);
      return { ...kit, backend };
    }

    it('a release still on its way to Redis is not an orphaned permit', async () => {
      const { core, backend, audit, ledger } = await kitWithAudit();
      try {
        const lease = await core.acquire(holder('racy'), { signal: new AbortController().signal });
        backend.pauseNext = 'remove';
        lease.release();
        expect(backend.isPaused).toBe(true);
        const report = await audit.run();
        expect(report!.reclaimed).toEqual([]);
        backend.continue();
        await waitFor(async () => [...(await ledger.counts()).values()].every((n) => n === 0));
      } finally {
        await backend.onModuleDestroy();
      }
    });

    it('a release that completes while the audit reads Redis is not an orphaned permit', async () => {
      const { core, backend, audit, ledger } = await kitWithAudit();
      try {
        const lease = await core.acquire(holder('racy'), { signal: new AbortController().signal });
        backend.pauseNext = 'members';
        const running = audit.run();
        await waitFor(() => backend.isPaused, 5000, 'the audit to read the members');
        lease.release();
        await waitFor(async () => (await ledger.counts()).get('global') === 0, 5000, 'the release to reach Redis');
        backend.continue();
        const report = await running;
        expect(report!.reclaimed).toEqual([]);
      } finally {
        await backend.onModuleDestroy();
      }
    });

    it('a permit no lease owns is still reclaimed', async () => {
      const { audit, backend, ledger } = await kitWithAudit();
      try {
        // Charged straight in the backend, as if the ledger had lost it.
        expect(await backend.tryAdmit('stray', [{ key: 'global', name: 'global', capacity: 3 }])).toEqual({ ok: true });
        const report = await audit.run();
        expect(report!.reclaimed).toEqual([{ leaseId: 'stray', reason: 'orphaned' }]);
        expect((await ledger.counts()).get('global')).toBe(0);
      } finally {
        await backend.onModuleDestroy();
      }
    });
  });

  it('a permit freed while an attempt is on its way goes to the waiter whose turn it is', async () => {
    const env = {
      EXAI_CONCURRENCY_BACKEND: 'redis',
      REDIS_URL: redis.url,
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '1',
      EXAI_WS_QUEUE_TIMEOUT_SECS: '60',
    };
    const backend = new SlowAnswerBackend(redisConfig(redis.url, env));
    await backend.onModuleInit();
    const { core } = concurrencyKit(env, backend);
    const ctl = new AbortController();
    try {
      const held = await core.acquire(holder('x'), { signal: ctl.signal });
      const admitted: string[] = [];
      const queued = new Set<string>();
      for (const session of ['a', 'b'])
        void core.acquire(holder(session), { signal: ctl.signal, onQueued: () => queued.add(session) }).then(
          (lease) => admitted.push(session) && lease.release(),
          () => undefined,
        );
      await waitFor(() => queued.size === 2, 5000, 'both waiters queued');
      // The next attempt (a's: its turn) is refused by Redis, but before its
      // answer arrives the permit is released: it must still go to a, not b.
      backend.beforeNextAnswer = async () => {
        held.release();
        await waitFor(async () => (await admin.zcard('{exai}:limit:global')) === 0, 5000, 'the release in Redis');
      };
      // Wake the waiters as another daemon's release would.
      await admin.publish('{exai}:released', 'another-daemon');
      await waitFor(() => admitted.length > 0, 5000, 'an admission');
      expect(admitted[0]).toBe('a');
    } finally {
      ctl.abort(new Error('test over'));
      core.close(new Error('test over'));
      await backend.onModuleDestroy();
    }
  });

  it('retry_after is bounded by the queue timeout, even long after the last release', async () => {
    const d = await startTestDaemon(
      daemonEnv({
        EXAI_WS_GLOBAL_MAX_INFLIGHT: '1',
        EXAI_WS_SESSION_MAX_INFLIGHT: '10',
        EXAI_WS_QUEUE_TIMEOUT_SECS: '1',
      }),
    );
    try {
      const c = await TestClient.ready(d.url, { session_id: 'retry-after' });
      c.send({ op: 'call_tool', request_id: 'quick', name: 'test_echo', arguments: { text: 'quick' } });
      expect(toolOutput(await c.result('quick')).content).toBe('quick');
      const releasedAt = Date.now();
      c.send({ op: 'call_tool', request_id: 'hold', name: 'test_gate', arguments: { gate: 'retry-after' } });
      await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'hold');
      // What is tested is the time since the last release: let 4 s pass.
      await waitFor(() => Date.now() - releasedAt > 4000, 10_000, '4 s since the last release');
      c.send({ op: 'call_tool', request_id: 'waits', name: 'test_echo', arguments: { text: 'waits' } });
      const refused = await c.result('waits', 10_000);
      expect(refused.error).toMatchObject({ code: 'OVER_CAPACITY', limit: 'global', retry_after: 1 });
      d.probe.open('retry-after');
      await c.result('hold');
      c.close();
    } finally {
      await d.close();
    }
  }, 30_000);
});
