import { startTestDaemon, TestDaemon } from './support/daemon';
import { expectCancelsBehindCallsLand } from './support/cancel-behind';
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
    await expectCancelsBehindCallsLand(c);
    c.close();
  });
});
