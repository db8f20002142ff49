import WebSocket from 'ws';
import { ConnectionsService } from '../src/gateway/connections.service';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { waitFor } from './support/wait';
import { Frame, TestClient } from './support/ws-client';

describe('malformed frames, limits and keepalive', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_WS_MAX_BYTES: '4096',
      EXAI_WS_MAX_CONNECTIONS_PER_IP: '6',
      EXAI_WS_RATE_LIMIT_PER_SEC: '20',
      EXAI_WS_RATE_LIMIT_BURST: '20',
    });
  });
  afterAll(() => daemon.close());

  it.each([
    ['not JSON', '{"op":', 'invalid_json'],
    ['a JSON string', '"hello"', 'invalid_message: frame must be a JSON object'],
    ['a JSON array', '[]', 'invalid_message: frame must be a JSON object'],
    ['null', 'null', 'invalid_message: frame must be a JSON object'],
    ['no op', { request_id: 'x' }, 'invalid_message: missing string "op"'],
    ['a numeric op', { op: 7 }, 'invalid_message: missing string "op"'],
    ['call_tool without name', { op: 'call_tool' }, 'invalid_message: call_tool needs a non-empty string "name"'],
    [
      'call_tool with empty name',
      { op: 'call_tool', name: '  ' },
      'invalid_message: call_tool needs a non-empty string "name"',
    ],
    [
      'call_tool with numeric request_id',
      { op: 'call_tool', name: 'version', request_id: 5 },
      'invalid_message: "request_id" must be a string',
    ],
    [
      'call_tool with array arguments',
      { op: 'call_tool', name: 'version', arguments: [] },
      'invalid_message: "arguments" must be an object',
    ],
    [
      'rotate_token without new',
      { op: 'rotate_token', old: 'a' },
      'invalid_message: rotate_token needs string "old" and "new"',
    ],
    ['cancel without request_id', { op: 'cancel' }, 'invalid_message: cancel needs a non-empty string "request_id"'],
    ['an unknown op', { op: 'frobnicate' }, 'Unknown op: frobnicate'],
    ['a reserved internal event name', { op: '$invalid' }, 'Unknown op: $invalid'],
    ['a second hello', { op: 'hello' }, 'invalid_message: hello already completed on this connection'],
  ])('answers %s with an error frame and keeps the connection', async (_label, frame, message) => {
    const c = await TestClient.ready(daemon.url);
    c.send(frame);
    expect(await c.next()).toEqual({ op: 'error', message });
    c.send({ op: 'list_tools', request_id: 'still-alive' });
    expect(await c.next()).toMatchObject({ op: 'list_tools_res', request_id: 'still-alive' });
    c.close();
  });

  it('accepts binary UTF-8 frames', async () => {
    const c = await TestClient.ready(daemon.url);
    c.ws.send(Buffer.from(JSON.stringify({ op: 'list_tools', request_id: 'bin' })), { binary: true });
    expect(await c.next()).toMatchObject({ op: 'list_tools_res', request_id: 'bin' });
    c.close();
  });

  it('closes with 1009 on a frame over EXAI_WS_MAX_BYTES', async () => {
    const c = await TestClient.ready(daemon.url);
    c.send({ op: 'call_tool', name: 'test_echo', arguments: { text: 'x'.repeat(5000) } });
    const closed = await c.waitClose();
    expect(closed.code).toBe(1009);
  });

  it('answers rate_limit_exceeded past the per-connection rate, then recovers', async () => {
    const c = await TestClient.ready(daemon.url);
    for (let i = 0; i < 40; i++) c.send({ op: 'list_tools', request_id: `r${i}` });
    const limited = await c.next((f) => f.op === 'error');
    expect(limited.message).toMatch(/^rate_limit_exceeded: retry after \d+(\.\d)?s$/);
    // Recovers once the bucket refills: probe a few times a second (well under the
    // limit) until a request is served again.
    let answer: Frame | undefined;
    let n = 0;
    await waitFor(
      async () => {
        const id = `after-${n++}`;
        c.send({ op: 'list_tools', request_id: id });
        answer = await c.next((f) => f.request_id === id || f.op === 'error');
        if (answer.op === 'list_tools_res') return true;
        await new Promise((r) => setTimeout(r, 200));
        return false;
      },
      10_000,
      'the rate limit to let a request through',
    );
    expect(answer).toMatchObject({ op: 'list_tools_res' });
    c.close();
  });

  it('closes with 1008 and no JSON frame once the per-IP connection limit is full', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(daemon.url)));
    const extra = await TestClient.connect(daemon.url);
    const closed = await extra.waitClose();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/too many connections/);
    expect(extra.frames).toEqual([]);
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.waitClose()));
  });

  it('drops a peer that stops answering pings', async () => {
    const d = await startTestDaemon({ EXAI_WS_PING_INTERVAL: '1', EXAI_WS_PING_TIMEOUT: '1' });
    try {
      // autoPong off: this peer never answers the server's pings.
      const ws = new WebSocket(d.url, { autoPong: false });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ op: 'hello' }));
      const code = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('not dropped')), 5000);
        ws.once('close', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code).toBe(1006);
      const healthy = await TestClient.ready(d.url);
      // A peer that answers stays: three pings answered means two timeouts passed.
      let pings = 0;
      healthy.ws.on('ping', () => pings++);
      await waitFor(() => pings >= 3 || healthy.closed !== undefined, 10_000, 'three pings');
      expect(healthy.closed).toBeUndefined();
      healthy.close();
    } finally {
      await d.close();
    }
  });
});

describe('global connection limit', () => {
  it('closes with 1008 over EXAI_WS_MAX_CONNECTIONS', async () => {
    const daemon = await startTestDaemon({ EXAI_WS_MAX_CONNECTIONS: '2' });
    try {
      const a = await TestClient.connect(daemon.url);
      const b = await TestClient.connect(daemon.url);
      const c = await TestClient.connect(daemon.url);
      expect((await c.waitClose()).code).toBe(1008);
      a.close();
      await a.waitClose();
      const connections = daemon.app.get(ConnectionsService);
      await waitFor(() => connections.stats().connections < 2, 5000, 'the daemon to count the close');
      const d = await TestClient.ready(daemon.url);
      d.close();
      b.close();
    } finally {
      await daemon.close();
    }
  });
});
