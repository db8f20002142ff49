import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestRedis } from './support/redis';
import { TestClient } from './support/ws-client';

/**
 * With the session state in Redis, planning a call waits on Redis (the replay
 * read), so the frames behind a call arrive while it is still being planned.
 */
describe('a cancel right behind its call, with session state in Redis', () => {
  let redis: TestRedis;
  let daemon: TestDaemon;
  beforeAll(async () => {
    redis = await TestRedis.start();
    daemon = await startTestDaemon({ EXAI_STATE_BACKEND: 'redis', REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await daemon?.close();
    await redis?.stop();
  });

  it('ends the call with CANCELLED, not unknown_request followed by a run', async () => {
    const c = await TestClient.ready(daemon.url, { session_id: 'cancel-behind' });
    const ids = Array.from({ length: 20 }, (_, i) => `early-${i}`);
    for (const id of ids) {
      c.send({
        op: 'call_tool',
        request_id: id,
        name: 'test_gate',
        arguments: { gate: `never-${id}`, timeout_secs: 5 },
      });
      c.send({ op: 'cancel', request_id: id });
    }
    for (const id of ids) expect((await c.result(id, 15_000)).error).toMatchObject({ code: 'CANCELLED' });
    c.send({ op: 'list_tools', request_id: 'flush' });
    await c.next((f) => f.request_id === 'flush');
    expect((await c.quietFor(0)).filter((f) => f.op === 'error')).toEqual([]);
    c.close();
  });
});
