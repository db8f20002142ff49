import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import { LeakAuditTasks } from '../src/concurrency/leak-audit.tasks';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import { RedisConcurrencyBackend } from '../src/concurrency/redis/redis-concurrency.backend';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startTestDaemon } from './support/daemon';
import { limitScores, TestRedis } from './support/redis';
import { Frame, TestClient, toolOutput } from './support/ws-client';
import { waitFor } from './support/wait';

function backend(redisUrl: string, env: Record<string, string> = {}): RedisConcurrencyBackend {
  const config = toConcurrencyConfig({ EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: redisUrl, ...env });
  return new RedisConcurrencyBackend(config);
}

describe('shared limits on a real redis-server', () => {
  let redis: TestRedis;
  const sim = new ProviderSimulator({ speed: 0 });
  beforeAll(async () => {
    redis = await TestRedis.start();
    await sim.start(0, '127.0.0.1');
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  // Each test starts from an empty Redis: a permit left by an earlier test (a
  // release that raced a Redis stop) would otherwise expire into a later one.
  beforeEach(async () => {
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
  });
  afterAll(async () => {
    await redis.stop();
    await sim.stop();
    jest.restoreAllMocks();
  });

  const daemonEnv = (extra: Record<string, string> = {}) => ({
    EXAI_CONCURRENCY_BACKEND: 'redis',
    REDIS_URL: redis.url,
    EXAI_PROVIDERS_MODE: 'real',
    GLM_API_KEY: 'sim-glm-key',
    KIMI_API_KEY: 'sim-kimi-key',
    GLM_API_URL: sim.glmBaseUrl,
    KIMI_API_URL: sim.kimiBaseUrl,
    EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'chat',
    EXAI_LEASE_TTL_SECS: '2',
    ...extra,
  });

  it('admits atomically: 200 concurrent attempts from two daemons against capacity 3 admit exactly 3', async () => {
    const a = backend(redis.url);
    const b = backend(redis.url);
    await Promise.all([a.onModuleInit(), b.onModuleInit()]);
    try {
      const slots = [{ key: 'global-atomic', name: 'global', capacity: 3 }];
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).tryAdmit(`lease-${i}`, slots)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      const counts = await a.counts();
      expect(counts.get('global-atomic')).toBe(3);
    } finally {
      await Promise.all([a.onModuleDestroy(), b.onModuleDestroy()]);
    }
  });

  // global 10, GLM 10 (or 1), session 1 (or 10): one key full at a time, the others roomy.
  const threeKeys = (session: string, caps: { glm?: number; session?: number } = {}) => [
    { key: 'global', name: 'global', capacity: 10 },
    { key: 'provider:GLM', name: 'GLM', capacity: caps.glm ?? 10 },
    { key: `session:${session}`, name: 'session', capacity: caps.session ?? 1 },
  ];

  it('a full session limit refuses on the session key and charges no other key', async () => {
    const a = backend(redis.url);
    await a.onModuleInit();
    try {
      expect(await a.tryAdmit('first', threeKeys('s1'))).toEqual({ ok: true });
      expect(await a.tryAdmit('second', threeKeys('s1'))).toEqual({ ok: false, full: threeKeys('s1')[2] });
      const counts = await a.counts();
      expect([counts.get('global'), counts.get('provider:GLM'), counts.get('session:s1')]).toEqual([1, 1, 1]);
      // Another session is not held back by s1's limit.
      expect(await a.tryAdmit('other', threeKeys('s2'))).toEqual({ ok: true });
    } finally {
      await a.onModuleDestroy();
    }
  });

  it('a full provider limit refuses on the provider and leaves global and the other session unchanged', async () => {
    const a = backend(redis.url);
    await a.onModuleInit();
    try {
      const caps = { glm: 1, session: 10 };
      expect(await a.tryAdmit('glm-a', threeKeys('A', caps))).toEqual({ ok: true });
      expect(await a.tryAdmit('glm-b', threeKeys('B', caps))).toEqual({ ok: false, full: threeKeys('B', caps)[1] });
      const counts = await a.counts();
      expect(counts.get('global')).toBe(1);
      expect(counts.get('provider:GLM')).toBe(1);
      expect(counts.get('session:A')).toBe(1);
      expect(counts.get('session:B') ?? 0).toBe(0);
      const members = await a.members();
      expect(members.get('global')).toEqual(new Set(['glm-a']));
      expect(members.has('session:B')).toBe(false);
    } finally {
      await a.onModuleDestroy();
    }
  });

  it('a daemon on Redis with session limit 1 and no queue answers OVER_CAPACITY limit "session" to a second call', async () => {
    const d = await startTestDaemon(
      daemonEnv({
        EXAI_WS_SESSION_MAX_INFLIGHT: '1',
        EXAI_WS_GLOBAL_MAX_INFLIGHT: '10',
        EXAI_WS_QUEUE_TIMEOUT_SECS: '0',
      }),
    );
    try {
      const c = await TestClient.ready(d.url, { session_id: 'one-at-a-time' });
      c.send({ op: 'call_tool', request_id: 'holds', name: 'test_gate', arguments: { gate: 'redis-session-1' } });
      await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'holds');
      c.send({ op: 'call_tool', request_id: 'second', name: 'test_echo', arguments: { text: 'second' } });
      expect((await c.result('second')).error).toMatchObject({ code: 'OVER_CAPACITY', limit: 'session' });
      // Another session still gets in: only the session limit is full.
      const other = await TestClient.ready(d.url, { session_id: 'someone-else' });
      other.send({ op: 'call_tool', request_id: 'other', name: 'test_echo', arguments: { text: 'other' } });
      expect(toolOutput(await other.result('other')).content).toBe('other');
      d.probe.open('redis-session-1');
      expect(toolOutput(await c.result('holds')).content).toBe('gate redis-session-1 opened');
      c.close();
      other.close();
      await waitFor(async () => (await d.app.get(ConcurrencySnapshotService).snapshot()).inFlight.global === 0);
    } finally {
      await d.close();
    }
  }, 30_000);

  it('two daemons sharing global limit 3 never have more than 3 calls upstream under 100 concurrent calls', async () => {
    const env = daemonEnv({
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '3',
      EXAI_WS_SESSION_MAX_INFLIGHT: '100',
      EXAI_WS_GLM_MAX_INFLIGHT: '100',
      EXAI_WS_MAX_QUEUE: '1000',
    });
    const d1 = await startTestDaemon(env);
    const d2 = await startTestDaemon(env);
    let maxOpen = 0;
    const sampler = setInterval(() => (maxOpen = Math.max(maxOpen, sim.openRequests)), 2);
    try {
      const clients = await Promise.all([TestClient.ready(d1.url), TestClient.ready(d2.url)]);
      const ids = Array.from({ length: 100 }, (_, i) => `c${i}`);
      ids.forEach((id, i) =>
        clients[i % 2].send({
          op: 'call_tool',
          request_id: id,
          name: 'chat',
          arguments: { prompt: `[[sim:delay=40]] ${id}` },
        }),
      );
      const results = await Promise.all(ids.map((id, i) => clients[i % 2].result(id, 30_000)));
      expect(results.filter((r: Frame) => r.error)).toEqual([]);
      expect(maxOpen).toBeLessThanOrEqual(3);
      expect(maxOpen).toBeGreaterThanOrEqual(2);
      for (const c of clients) c.close();
      await waitFor(async () => (await d1.app.get(ConcurrencySnapshotService).snapshot()).inFlight.global === 0);
    } finally {
      clearInterval(sampler);
      await d1.close();
      await d2.close();
    }
  }, 60_000);

  it('closed mode: with Redis gone new calls get OVER_CAPACITY (limiter unavailable) and readiness fails; calls resume when it returns, with no leak', async () => {
    // The limiter alone: with the state store on Redis too, a chat is refused
    // earlier, while planning, with limit "state" (several-daemons.e2e-spec.ts).
    const d = await startTestDaemon(daemonEnv({ EXAI_REDIS_FAILURE_MODE: 'closed', EXAI_STATE_BACKEND: 'memory' }));
    try {
      const c = await TestClient.ready(d.url);
      c.send({ op: 'call_tool', request_id: 'before', name: 'chat', arguments: { prompt: 'before' } });
      expect(toolOutput(await c.result('before')).content).toContain('before');
      await redis.stop();
      await waitFor(async () => (await fetch(`${d.httpUrl}/health/ready`)).status === 503);
      c.send({ op: 'call_tool', request_id: 'during', name: 'chat', arguments: { prompt: 'during' } });
      expect((await c.result('during')).error).toMatchObject({
        code: 'OVER_CAPACITY',
        limit: 'limiter',
        message: 'Concurrency limiter unavailable (Redis unreachable); retry soon',
      });
      await redis.launch();
      await waitFor(async () => (await fetch(`${d.httpUrl}/health/ready`)).status === 200, 10_000);
      c.send({ op: 'call_tool', request_id: 'after', name: 'chat', arguments: { prompt: 'after' } });
      expect(toolOutput(await c.result('after', 10_000)).content).toContain('after');
      c.close();
      await waitFor(async () => (await d.app.get(ConcurrencySnapshotService).snapshot()).inFlight.global === 0);
    } finally {
      await d.close();
    }
  }, 60_000);

  it('local mode: with Redis gone each daemon falls back to its own limits, loudly', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const d = await startTestDaemon(daemonEnv({ EXAI_REDIS_FAILURE_MODE: 'local' }));
    try {
      // Redis goes away after the boot audit has run.
      await waitFor(async () => (await d.app.get(ConcurrencySnapshotService).snapshot()).lastAuditAt !== null);
      await redis.stop();
      const c = await TestClient.ready(d.url);
      c.send({ op: 'call_tool', request_id: 'local', name: 'chat', arguments: { prompt: 'local limits' } });
      expect(toolOutput(await c.result('local', 10_000)).content).toContain('local limits');
      expect(error).toHaveBeenCalledWith(
        expect.stringMatching(/^REDIS LIMITER DOWN.*falling back to this daemon’s own in-memory limits/),
      );
      expect((await fetch(`${d.httpUrl}/health/ready`)).status).toBe(200);
      c.close();
    } finally {
      await redis.launch();
      await d.close();
    }
  }, 60_000);

  it('the leak audit reports and sweeps permits of a daemon that died', async () => {
    const holder = spawn(process.execPath, [join(__dirname, 'fixtures', 'redis-holder.js'), redis.url, '1', 'global'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('holder did not take the permit')), 10_000);
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('HELD') && (clearTimeout(timer), resolve()));
    });
    // An interval cron cannot express: the scheduled audit never runs during the test, only ours.
    const d = await startTestDaemon(daemonEnv({ EXAI_LEASE_TTL_SECS: '1', EXAI_LEAK_AUDIT_INTERVAL_SECS: '3599' }));
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      expect((await d.app.get(ConcurrencySnapshotService).snapshot()).inFlight.global).toBe(1);
      holder.kill('SIGKILL');
      await waitFor(
        async () => (await limitScores(redis.url, 'global')).every((expiry) => expiry < Date.now()),
        5000,
        'the dead holder’s permit to pass its expiry',
      );
      const report = await d.app.get(LeakAuditTasks).run();
      expect(report!.abandoned).toBe(1);
      expect(warn).toHaveBeenCalledWith(
        'SEMAPHORE HEALTH: reclaimed 1 expired permits of daemons that stopped refreshing (crashed?)',
      );
      expect((await d.app.get(ConcurrencySnapshotService).snapshot()).inFlight.global).toBe(0);
    } finally {
      holder.kill('SIGKILL');
      warn.mockRestore();
      await d.close();
    }
  });

  it('kill -9 of a daemon process mid-call: its lease expires within the TTL and the other daemon then admits', async () => {
    const shared = {
      ...daemonEnv({ EXAI_WS_GLOBAL_MAX_INFLIGHT: '1', EXAI_WS_QUEUE_TIMEOUT_SECS: '0' }),
      EXAI_WS_HOST: '127.0.0.1',
      EXAI_WS_TOKEN: '',
      LOG_LEVEL: 'info',
    };
    const proc = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js')], {
      env: { ...process.env, ...shared, EXAI_WS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const other = await startTestDaemon(shared);
    try {
      await waitFor(() => /listening on ws:\/\//.test(out), 15_000);
      const url = /listening on (ws:\/\/[^\s"]+)/.exec(out)![1];
      const victim = await TestClient.ready(url);
      victim.send({
        op: 'call_tool',
        request_id: 'doomed',
        name: 'chat',
        arguments: { prompt: '[[sim:stall]] never' },
      });
      await victim.next((f) => f.op === 'call_tool_ack');
      const c = await TestClient.ready(other.url);
      c.send({ op: 'call_tool', request_id: 'refused', name: 'chat', arguments: { prompt: 'while held' } });
      expect((await c.result('refused')).error).toMatchObject({ code: 'OVER_CAPACITY', limit: 'global' });
      proc.kill('SIGKILL');
      const killedAt = Date.now();
      // Nothing refreshes the dead daemon's permit any more, so it expires within one TTL (2 s here).
      const [expiry] = await limitScores(redis.url, 'global');
      expect(expiry).toBeLessThanOrEqual(killedAt + 2000);
      // Wait on the state (the shared count drops once the permit expires), then call once:
      // retrying calls in a loop would trip the per-connection rate limit.
      const snap = other.app.get(ConcurrencySnapshotService);
      await waitFor(async () => (await snap.snapshot()).inFlight.global === 0, 15_000, 'the dead permit to expire');
      c.send({ op: 'call_tool', request_id: 'after-kill', name: 'chat', arguments: { prompt: 'after the kill' } });
      expect(toolOutput(await c.result('after-kill', 10_000)).content).toContain('after the kill');
      c.close();
    } finally {
      proc.kill('SIGKILL');
      await other.close();
    }
  }, 60_000);

  it('sends admission and release as scripts by SHA1, the script text only once per connection', async () => {
    const admin = new Redis(redis.url);
    const a = backend(redis.url);
    await a.onModuleInit();
    try {
      await admin.config('RESETSTAT');
      const slots = threeKeys('sha');
      for (let i = 0; i < 20; i++) {
        expect(await a.tryAdmit(`l${i}`, slots)).toEqual({ ok: true });
        await a.remove(
          `l${i}`,
          slots.map((s) => s.key),
        );
      }
      const stats = commandStats(await admin.info('commandstats'));
      // The first admission and the first release load their script; every other call names it by hash.
      expect(stats.eval ?? 0).toBeLessThanOrEqual(2);
      expect(stats.evalsha).toBeGreaterThanOrEqual(38);
      // And the releases did release.
      expect(await admin.zcard('{exai}:limit:session:sha')).toBe(0);
    } finally {
      await a.onModuleDestroy();
      admin.disconnect();
    }
  });

  it('a release tells the other daemons only when it freed a permit that someone waits for', async () => {
    const listener = new Redis(redis.url);
    const a = backend(redis.url);
    const b = backend(redis.url);
    await Promise.all([a.onModuleInit(), b.onModuleInit()]);
    const heard: string[] = [];
    try {
      listener.on('message', (_channel: string, from: string) => heard.push(from));
      await listener.subscribe('{exai}:released');
      const slots = threeKeys('pub');
      const keys = slots.map((s) => s.key);
      // Uncontended: a takes and gives back a permit nobody else wants.
      expect(await a.tryAdmit('alone', slots)).toEqual({ ok: true });
      await a.remove('alone', keys);
      // b holds the session's only permit and a is refused: now someone waits.
      expect(await b.tryAdmit('held', slots)).toEqual({ ok: true });
      expect(await a.tryAdmit('waiting', slots)).toEqual({ ok: false, full: slots[2] });
      // a releases a lease it never held (expired and swept, say): nothing is freed.
      await a.remove('never-held', keys);
      // Then b frees the permit a waits for. Had either earlier release published, its message would come first.
      await b.remove('held', keys);
      await waitFor(() => heard.length > 0, 5000, 'the release message');
      expect(heard).toEqual([b.daemonId]);
      expect(await a.tryAdmit('waiting', slots)).toEqual({ ok: true });
    } finally {
      await Promise.all([a.onModuleDestroy(), b.onModuleDestroy()]);
      listener.disconnect();
    }
  });

  it('kill -9 of a daemon holding a permit: its lease expires within the lease TTL and another daemon admits', async () => {
    const key = 'global-crash';
    const holder = spawn(process.execPath, [join(__dirname, 'fixtures', 'redis-holder.js'), redis.url, '1', key], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('holder did not take the permit')), 10_000);
      holder.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('HELD')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const b = backend(redis.url, { EXAI_LEASE_TTL_SECS: '1' });
    await b.onModuleInit();
    try {
      const slots = [{ key, name: 'global', capacity: 1 }];
      // While the holder lives it refreshes its lease, so the permit stays taken past its first expiry.
      const [firstExpiry] = await limitScores(redis.url, key);
      await waitFor(async () => (await limitScores(redis.url, key))[0] > firstExpiry, 5000, 'a refresh');
      await waitFor(() => Date.now() > firstExpiry, 5000, 'the first expiry to pass');
      expect((await b.tryAdmit('waiting', slots)).ok).toBe(false);
      holder.kill('SIGKILL');
      const killedAt = Date.now();
      const [lastExpiry] = await limitScores(redis.url, key);
      expect(lastExpiry).toBeLessThanOrEqual(killedAt + 1000);
      await waitFor(async () => (await b.tryAdmit('waiting', slots)).ok, 5000, 'the dead holder’s permit to expire');
    } finally {
      holder.kill('SIGKILL');
      await b.onModuleDestroy();
    }
  });
});

/** `cmdstat_<name>:calls=N,...` lines of INFO commandstats, as name -> calls. */
function commandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}
