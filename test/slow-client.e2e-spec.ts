import { connect, Socket } from 'node:net';
import type { ClientOptions } from 'ws';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import { ConnectionsService } from '../src/gateway/connections.service';
import { MetricsService } from '../src/metrics/metrics.service';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';
import { waitFor } from './support/wait';

const BOUND = 1024 * 1024;

async function counter(daemon: TestDaemon, name: string): Promise<number> {
  const text = await daemon.app.get(MetricsService).registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** A real ws client whose TCP socket the test can stop reading (pause) and resume. */
async function pausableClient(url: string): Promise<{ client: TestClient; raw: () => Socket }> {
  let raw: Socket | undefined;
  const options = {
    createConnection: (opts: { host: string; port: number }) => (raw = connect(opts.port, opts.host)),
  } as unknown as ClientOptions;
  const client = await TestClient.connect(url, options);
  return { client, raw: () => raw! };
}

describe('a client that stops reading', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_WS_MAX_BUFFERED_BYTES: String(BOUND),
      EXAI_WS_RATE_LIMIT_BURST: '1000',
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '10',
      EXAI_WS_SESSION_MAX_INFLIGHT: '10',
    });
  });
  afterAll(() => daemon.close());

  it('cannot make the daemon queue more than the bound plus one frame by replaying a big result', async () => {
    const { client: c, raw } = await pausableClient(daemon.url);
    c.send({ op: 'hello', session_id: 'slow-reader' });
    await c.next((f) => f.op === 'hello_ack');
    const big = 'z'.repeat(800 * 1024);
    c.send({ op: 'call_tool', request_id: 'big', name: 'test_echo', arguments: { text: big } });
    const first = await c.result('big', 10_000);
    const frameBytes = JSON.stringify(first).length;
    c.send({ op: 'call_tool', request_id: 'held', name: 'test_gate', arguments: { gate: 'slow-never' } });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'held');

    raw().pause();
    for (let i = 0; i < 300; i++)
      c.send({ op: 'call_tool', request_id: 'big', name: 'test_echo', arguments: { text: big } });

    const connections = daemon.app.get(ConnectionsService);
    let maxQueued = 0;
    await waitFor(
      async () => {
        for (const conn of connections.all()) maxQueued = Math.max(maxQueued, conn.socket.bufferedAmount);
        return (await counter(daemon, 'exai_ws_slow_client_closed_total')) === 1;
      },
      20_000,
      'the slow client closed',
    );
    expect(maxQueued).toBeLessThanOrEqual(BOUND + frameBytes);

    // Its running call ended as on a disconnect: aborted, permit released.
    await waitFor(() => daemon.probe.aborted.includes('held'), 5000, 'the held call aborted');
    const snapshot = daemon.app.get(ConcurrencySnapshotService);
    await waitFor(async () => (await snapshot.snapshot()).inFlight.global === 0, 5000, 'permits released');

    // A client that reads again finds the close code and reason behind its results.
    raw().resume();
    expect(await c.waitClose(20_000)).toEqual({ code: 1008, reason: 'send buffer full: client is not reading' });
    expect(c.frames.filter((f) => f.op === 'call_tool_res' && f.request_id === 'held')).toEqual([]);
  }, 60_000);

  it('keeps serving a client that reads normally: big results in turn, and a burst within the bound', async () => {
    const c = await TestClient.ready(daemon.url);
    const big = 'q'.repeat(900 * 1024);
    for (let i = 0; i < 5; i++) {
      c.send({ op: 'call_tool', request_id: `big-${i}`, name: 'test_echo', arguments: { text: `${i}${big}` } });
      expect((await c.result(`big-${i}`, 10_000)).error).toBeUndefined();
    }
    const small = 's'.repeat(40 * 1024);
    for (let i = 0; i < 10; i++) {
      c.send({ op: 'call_tool', request_id: `burst-${i}`, name: 'test_echo', arguments: { text: `${i}${small}` } });
    }
    for (let i = 0; i < 10; i++) expect((await c.result(`burst-${i}`, 10_000)).error).toBeUndefined();
    expect(c.closed).toBeUndefined();
    c.close();
  });
});
