import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestRedis } from './support/redis';
import { waitFor } from './support/wait';
import { TestClient, toolOutput } from './support/ws-client';

type Json = Record<string, unknown>;

/** EXAI_REDIS_FAILURE_MODE=local for the state store: served from memory while Redis is away, loudly. */
describe('state store in local mode', () => {
  let redis: TestRedis;
  let daemon: TestDaemon;
  let warn: jest.SpyInstance;

  beforeAll(async () => {
    redis = await TestRedis.start();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'simulated',
      EXAI_CONCURRENCY_BACKEND: 'redis',
      REDIS_URL: redis.url,
      EXAI_REDIS_FAILURE_MODE: 'local',
    });
  });
  afterAll(async () => {
    await daemon.close();
    await redis.stop();
    jest.restoreAllMocks();
  });

  const stateHealth = async () => ((await (await fetch(`${daemon.httpUrl}/health`)).json()) as Json).details as Json;

  it('keeps conversations going in memory while Redis is away, stays ready, and moves them to Redis afterwards', async () => {
    const c = await TestClient.ready(daemon.url, { session_id: 'agent-local' });
    const call = async (id: string, args: Json) => {
      c.send({ op: 'call_tool', request_id: id, name: 'chat', arguments: args });
      const res = await c.result(id, 15_000);
      if (res.error) throw new Error(JSON.stringify(res.error));
      return toolOutput(res);
    };
    // "Stays ready" needs a ready start: the boot leak audit's first pass (a
    // few Redis reads) may still be under way, and one cut off by the outage
    // only ends after the client's reconnect attempt fails.
    await waitFor(async () => (await fetch(`${daemon.httpUrl}/health/ready`)).status === 200, 15_000, 'ready');
    await redis.stop();
    await waitFor(async () => ((await stateHealth()).state as Json).fallback === true, 15_000, 'the fallback');
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^REDIS STATE DOWN: keeping conversations/));
    expect((await fetch(`${daemon.httpUrl}/health/ready`)).status).toBe(200);

    const thread = (await call('l1', { prompt: 'started during the outage' })).metadata.continuation_id as string;
    await call('l2', { prompt: 'continued during the outage', continuation_id: thread });

    await redis.launch();
    await waitFor(async () => ((await stateHealth()).state as Json).fallback === false, 20_000, 'Redis back');
    const after = await call('l3', { prompt: 'continued after', continuation_id: thread });
    expect(after.metadata.continuation_id).toBe(thread);
    // That write moved the thread, with the turns written during the outage, to Redis.
    const admin = new Redis(redis.url);
    try {
      const raw = (await admin.hget('{exai}:state:threads:data', thread))!;
      const stored = JSON.parse(raw.slice(raw.indexOf(':', raw.indexOf(':') + 1) + 1)) as {
        owner: string;
        messages: Array<{ role: string; content: string }>;
      };
      expect(stored.owner).toBe('agent-local');
      expect(stored.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
        'started during the outage',
        'continued during the outage',
        'continued after',
      ]);
    } finally {
      admin.disconnect();
    }
    c.close();
  }, 60_000);
});
