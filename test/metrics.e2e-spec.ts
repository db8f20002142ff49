import { startTestDaemon, TestDaemon } from './support/daemon';
import { waitFor } from './support/wait';
import { TestClient } from './support/ws-client';

/** A sample's value in a /metrics scrape (0 when the line is not there yet). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/**
 * The per-call metrics (calls, their duration, admissions, queue wait) are
 * tallied by each call and read by prom-client only at scrape time: a scrape
 * must still show every finished call.
 */
describe('per-call metrics at scrape time', () => {
  let daemon: TestDaemon;
  let client: TestClient;
  beforeAll(async () => {
    daemon = await startTestDaemon();
    client = await TestClient.ready(daemon.url, { session_id: 'metrics-fold' });
  });
  afterAll(async () => {
    client.close();
    await daemon.close();
  });

  const scrape = async () => (await fetch(`${daemon.httpUrl}/metrics`)).text();

  it('counts every finished call, its duration and its admission, per tool and outcome', async () => {
    const before = await scrape();
    const admittedBefore = sample(before, 'exai_admissions_total{outcome="admitted"}');
    const waitsBefore = sample(before, 'exai_queue_wait_seconds_count');
    const ok = 7;
    const failed = 3;
    for (let i = 0; i < ok; i++) {
      client.send({ op: 'call_tool', request_id: `ok${i}`, name: 'test_echo', arguments: { text: `fold ${i}` } });
      expect((await client.result(`ok${i}`)).error).toBeUndefined();
    }
    for (let i = 0; i < failed; i++) {
      client.send({ op: 'call_tool', request_id: `bad${i}`, name: 'test_fail', arguments: { message: `no ${i}` } });
      expect((await client.result(`bad${i}`)).error).toMatchObject({ code: 'EXEC_ERROR' });
    }
    // A call is counted right after its frames are written: wait for the last one.
    let text = '';
    await waitFor(
      async () => sample((text = await scrape()), 'exai_calls_total{tool="test_fail",outcome="EXEC_ERROR"}') === failed,
      10_000,
      'the failed calls in the scrape',
    );
    expect(sample(text, 'exai_calls_total{tool="test_echo",outcome="success"}')).toBe(ok);
    expect(sample(text, 'exai_call_duration_seconds_count{tool="test_echo"}')).toBe(ok);
    expect(sample(text, 'exai_call_duration_seconds_bucket{le="+Inf",tool="test_echo"}')).toBe(ok);
    expect(sample(text, 'exai_call_duration_seconds_bucket{le="0.01",tool="test_echo"}')).toBeLessThanOrEqual(ok);
    expect(sample(text, 'exai_call_duration_seconds_count{tool="test_fail"}')).toBe(failed);
    expect(sample(text, 'exai_call_duration_seconds_sum{tool="test_echo"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'exai_admissions_total{outcome="admitted"}') - admittedBefore).toBe(ok + failed);
    expect(sample(text, 'exai_queue_wait_seconds_count') - waitsBefore).toBe(ok + failed);
    expect(sample(text, 'exai_queue_wait_seconds_bucket{le="0.001"}') - waitsBefore).toBe(ok + failed);
    expect(text).toMatch(/^# TYPE exai_calls_total counter$/m);
    expect(text).toMatch(/^# TYPE exai_call_duration_seconds histogram$/m);
  });
});
