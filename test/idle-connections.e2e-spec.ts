import WebSocket from 'ws';
import { ClientConnection, ReplyStream } from '../src/gateway/client-connection';
import { ConnectionsService } from '../src/gateway/connections.service';
import { TokenBucket } from '../src/gateway/rate-limiter';
import { WriteCoalescer } from '../src/gateway/write-coalescer';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { waitFor } from './support/wait';
import { TestClient, toolOutput } from './support/ws-client';

// What an idle connection holds is kept small (see the bench's idle-memory
// section): shared listeners, one keepalive sweep, per-call state created on
// demand. These tests pin the behaviour those choices must keep.

const PING_INTERVAL_MS = 45_000;
const PING_TIMEOUT_MS = 30_000;

function serverSide(daemon: TestDaemon, sessionId: string): ClientConnection {
  const conn = daemon.app
    .get(ConnectionsService)
    .all()
    .find((c) => c.sessionId === sessionId);
  if (!conn) throw new Error(`no connection for session ${sessionId}`);
  return conn;
}

describe('idle connections', () => {
  let daemon: TestDaemon;
  let connections: ConnectionsService;

  beforeAll(async () => {
    // The defaults (45 s / 30 s): the sweeps below pass their own clock, far ahead of the real timer's.
    daemon = await startTestDaemon({
      EXAI_WS_PING_INTERVAL: String(PING_INTERVAL_MS / 1000),
      EXAI_WS_PING_TIMEOUT: String(PING_TIMEOUT_MS / 1000),
    });
    connections = daemon.app.get(ConnectionsService);
  });

  afterAll(async () => {
    await daemon.close();
  });

  it('gives every socket the same message and pong listener, and runs one keepalive timer only while any socket is open', async () => {
    const a = await TestClient.ready(daemon.url, { session_id: 'shared-a' });
    const b = await TestClient.ready(daemon.url, { session_id: 'shared-b' });
    const [ca, cb] = [serverSide(daemon, 'shared-a'), serverSide(daemon, 'shared-b')];
    for (const event of ['message', 'pong', 'close', 'error']) {
      expect(ca.socket.listenerCount(event)).toBe(1);
    }
    expect(ca.socket.listeners('message')[0]).toBe(cb.socket.listeners('message')[0]);
    expect(ca.socket.listeners('pong')[0]).toBe(cb.socket.listeners('pong')[0]);
    expect(ca.socket.listeners('error')[0]).toBe(cb.socket.listeners('error')[0]);
    expect(connections.keepaliveRunning).toBe(true);
    a.close();
    b.close();
    await Promise.all([a.waitClose(), b.waitClose()]);
    await waitFor(() => connections.stats().connections === 0, 5000, 'both connections forgotten');
    expect(connections.keepaliveRunning).toBe(false);
    // It starts again with the next connection.
    const c = await TestClient.ready(daemon.url);
    expect(connections.keepaliveRunning).toBe(true);
    c.close();
    await c.waitClose();
  });

  it('the keepalive sweep drops a peer that does not answer its ping and keeps every peer that does', async () => {
    const live = await Promise.all(
      ['live-1', 'live-2', 'live-3'].map((s) => TestClient.ready(daemon.url, { session_id: s })),
    );
    // autoPong off: this peer never answers; its unsolicited pongs must not count.
    const silent = await TestClient.connect(daemon.url, { autoPong: false });
    silent.send({ op: 'hello', session_id: 'silent' });
    await silent.next((f) => f.op === 'hello_ack');
    const liveConns = ['live-1', 'live-2', 'live-3'].map((s) => serverSide(daemon, s));
    const silentConn = serverSide(daemon, 'silent');
    const pings = live.map(() => 0);
    live.forEach((c, i) => c.ws.on('ping', () => pings[i]++));

    const t0 = Date.now();
    // Before its interval has passed nobody is pinged.
    connections.sweep(t0 + PING_INTERVAL_MS / 2);
    expect([...liveConns, silentConn].every((c) => c.pingNonce === undefined)).toBe(true);

    let t = t0 + PING_INTERVAL_MS + 1;
    for (let round = 1; round <= 3; round++) {
      connections.sweep(t);
      if (round === 1) expect(silentConn.socket.readyState).toBe(WebSocket.OPEN);
      await waitFor(() => pings.every((n) => n === round), 5000, `ping ${round} reached every live peer`);
      await waitFor(
        () => liveConns.every((c) => c.pingNonce === undefined),
        5000,
        `pong ${round} from every live peer`,
      );
      if (round === 1) {
        silent.ws.pong(Buffer.from('keep me'));
        // Frames are handled in order: once this answer is back, the daemon has seen the pong.
        silent.send({ op: 'health', request_id: 'after-pong' });
        await silent.next((f) => f.op === 'health_res');
        expect(silentConn.pingNonce).toBeDefined();
      }
      // Past the pong deadline: only the silent peer is overdue.
      t += PING_TIMEOUT_MS;
      connections.sweep(t);
      if (round === 1) {
        const closed = await silent.waitClose(5000);
        expect(closed.code).toBe(1006);
      }
      t += PING_INTERVAL_MS - PING_TIMEOUT_MS;
    }
    expect(live.every((c) => c.closed === undefined)).toBe(true);
    expect(pings).toEqual([3, 3, 3]);
    for (const c of live) c.close();
    await Promise.all(live.map((c) => c.waitClose()));
  });

  it('holds a reply stream only while a call runs: released when the call ends, and when the socket closes mid-call', async () => {
    const c = await TestClient.ready(daemon.url, { session_id: 'replies' });
    const conn = serverSide(daemon, 'replies');
    expect(conn.pendingReplies).toBe(0);
    c.send({ op: 'call_tool', request_id: 'r1', name: 'test_gate', arguments: { gate: 'idle-r1' } });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'r1');
    expect(conn.pendingReplies).toBe(1);
    daemon.probe.open('idle-r1');
    expect(toolOutput(await c.result('r1')).content).toBe('gate idle-r1 opened');
    await waitFor(() => conn.pendingReplies === 0, 5000, 'reply stream released after the result');

    c.send({ op: 'call_tool', request_id: 'r2', name: 'test_gate', arguments: { gate: 'idle-r2' } });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'r2');
    expect(conn.pendingReplies).toBe(1);
    c.ws.terminate();
    await waitFor(() => daemon.probe.aborted.includes('r2'), 5000, 'the running call aborted by the disconnect');
    expect(conn.pendingReplies).toBe(0);
  });

  it('counts a session while any of its connections is open', async () => {
    const a = await TestClient.ready(daemon.url, { session_id: 'two-sockets' });
    const b = await TestClient.ready(daemon.url, { session_id: 'two-sockets' });
    const before = connections.stats().sessions;
    expect(connections.hasSession('two-sockets')).toBe(true);
    a.close();
    await a.waitClose();
    await waitFor(() => connections.all().filter((c) => c.sessionId === 'two-sockets').length === 1, 5000, 'a gone');
    expect(connections.hasSession('two-sockets')).toBe(true);
    expect(connections.stats().sessions).toBe(before);
    b.close();
    await b.waitClose();
    await waitFor(() => !connections.hasSession('two-sockets'), 5000, 'session gone with its last connection');
    expect(connections.stats().sessions).toBe(before - 1);
  });
});

describe('per-connection rate limit on a shared bucket', () => {
  it('throttles a connection that spent its burst and leaves another connection its own', async () => {
    const daemon = await startTestDaemon({ EXAI_WS_RATE_LIMIT_PER_SEC: '1', EXAI_WS_RATE_LIMIT_BURST: '5' });
    try {
      const flooder = await TestClient.ready(daemon.url);
      const quiet = await TestClient.ready(daemon.url);
      const healthOks = async (c: TestClient, n: number) => {
        for (let i = 0; i < n; i++) c.send({ op: 'health' });
        const answers = await Promise.all(Array.from({ length: n }, () => c.next((f) => f.op === 'health_res')));
        return answers.filter((f) => f.ok === true).length;
      };
      // 20 at once at 1 token/s: the burst of 5 (and a token or two refilled meanwhile) pass.
      expect(await healthOks(flooder, 20)).toBeLessThan(10);
      expect(await healthOks(quiet, 5)).toBe(5);
      flooder.close();
      quiet.close();
    } finally {
      await daemon.close();
    }
  });
});

describe('ClientConnection reply streams', () => {
  function connection(): ClientConnection {
    return new ClientConnection('c1', {} as never, '127.0.0.1', new TokenBucket(10), {
      maxBufferedBytes: 1024,
      onDropped: () => undefined,
      onOverflow: () => undefined,
      coalescer: new WriteCoalescer(),
    });
  }

  it('closes every running reply when the connection ends, and any reply added after', () => {
    const conn = connection();
    const closed: string[] = [];
    const reply = (name: string): ReplyStream => ({ close: () => closed.push(name) });
    const first = reply('first');
    conn.addReply(first);
    conn.addReply(reply('second'));
    conn.removeReply(first);
    expect(conn.pendingReplies).toBe(1);
    conn.end();
    expect(closed).toEqual(['second']);
    expect(conn.pendingReplies).toBe(0);
    conn.addReply(reply('late'));
    expect(closed).toEqual(['second', 'late']);
    expect(conn.pendingReplies).toBe(0);
  });
});
