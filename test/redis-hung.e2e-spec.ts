import { Logger } from '@nestjs/common';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestRedis } from './support/redis';
import { waitFor } from './support/wait';
import { TestClient } from './support/ws-client';

/**
 * A Redis that hangs (stopped, partitioned, swapping) answers nothing and
 * closes nothing, unlike one that crashed. A call that reaches admission then
 * must still end, in the configured failure mode, and not wait for Redis.
 */
describe('a hung Redis under the shared limits', () => {
  let redis: TestRedis;
  let daemon: TestDaemon | undefined;
  beforeAll(async () => {
    redis = await TestRedis.start();
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    redis.resume();
    await daemon?.close();
    daemon = undefined;
  });
  afterAll(async () => {
    await redis.stop();
    jest.restoreAllMocks();
  });

  const start = (mode: 'closed' | 'local') =>
    startTestDaemon({
      EXAI_CONCURRENCY_BACKEND: 'redis',
      EXAI_STATE_BACKEND: 'memory',
      REDIS_URL: redis.url,
      EXAI_REDIS_FAILURE_MODE: mode,
      EXAI_PROVIDERS_MODE: 'simulated',
      // Far beyond the test's own bound: only Redis's command timeout can end the call in time.
      EXAI_WS_QUEUE_TIMEOUT_SECS: '600',
    });

  it('closed mode: a call arriving while Redis hangs ends with OVER_CAPACITY, and calls succeed again once it answers', async () => {
    daemon = await start('closed');
    const c = await TestClient.ready(daemon.url, { session_id: 'hung-closed' });
    c.send({ op: 'call_tool', request_id: 'before', name: 'version' });
    expect((await c.result('before')).error).toBeUndefined();

    redis.pause();
    c.send({ op: 'call_tool', request_id: 'during', name: 'version' });
    const during = await c.result('during', 20_000);
    expect(during.error).toMatchObject({ code: 'OVER_CAPACITY' });
    expect((await fetch(`${daemon.httpUrl}/health/ready`)).status).toBe(503);

    redis.resume();
    await waitFor(async () => (await fetch(`${daemon!.httpUrl}/health/ready`)).status === 200, 15_000, 'ready again');
    c.send({ op: 'call_tool', request_id: 'after', name: 'version' });
    expect((await c.result('after')).error).toBeUndefined();
    c.close();
  });

  it('local mode: a call arriving while Redis hangs runs on this daemon’s own limits', async () => {
    daemon = await start('local');
    const c = await TestClient.ready(daemon.url, { session_id: 'hung-local' });
    redis.pause();
    c.send({ op: 'call_tool', request_id: 'during', name: 'version' });
    const during = await c.result('during', 20_000);
    expect(during.error).toBeUndefined();
    c.close();
  });
});
