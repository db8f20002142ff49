import WebSocket from 'ws';
import { MetricsService } from '../src/metrics/metrics.service';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';
import { waitFor } from './support/wait';

const TOKEN = 'front-door-token';

async function metric(daemon: TestDaemon, name: string, labels = ''): Promise<number> {
  const text = await daemon.app.get(MetricsService).registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('the WebSocket upgrade', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({ EXAI_WS_ALLOWED_ORIGINS: 'https://allowed.example' });
  });
  afterAll(() => daemon.close());

  it('refuses an upgrade carrying a browser Origin with HTTP 403', async () => {
    await expect(TestClient.connect(daemon.url, { origin: 'https://evil.example' })).rejects.toThrow(
      'Unexpected server response: 403',
    );
    await expect(TestClient.connect(daemon.url, { origin: 'null' })).rejects.toThrow('Unexpected server response: 403');
  });

  it('accepts an origin listed in EXAI_WS_ALLOWED_ORIGINS, and clients that send none', async () => {
    const listed = await TestClient.ready(daemon.url.replace(/\/$/, ''), {});
    listed.close();
    const browser = await TestClient.connect(daemon.url, { origin: 'https://ALLOWED.example' });
    browser.send({ op: 'hello' });
    expect(await browser.next()).toMatchObject({ op: 'hello_ack', ok: true });
    browser.close();
  });

  it.each(['ws', 'some/deep/path?x=1', 'ws/'])('accepts the upgrade on any path (/%s)', async (path) => {
    const c = await TestClient.ready(`${daemon.url}${path}`);
    c.send({ op: 'list_tools', request_id: 'p' });
    expect(await c.next()).toMatchObject({ op: 'list_tools_res', request_id: 'p' });
    c.close();
  });
});

describe('sizes and shapes the old daemon accepted or never bounded', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({ EXAI_WS_TOKEN: TOKEN, EXAI_WS_HELLO_FAILURES_BEFORE_BACKOFF: '1000' });
  });
  afterAll(() => daemon.close());

  it('reads request_id: null and arguments: null as absent', async () => {
    const c = await TestClient.ready(daemon.url, { token: TOKEN });
    c.send({ op: 'call_tool', name: 'version', request_id: null, arguments: null });
    const res = await c.next((f) => f.op === 'call_tool_res');
    expect(res.error).toBeUndefined();
    expect(res.request_id).toMatch(/^[0-9a-f-]{36}$/);
    c.send({ op: 'list_tools', request_id: null });
    const list = await c.next((f) => f.op === 'list_tools_res');
    expect(list).not.toHaveProperty('request_id');
    c.close();
  });

  it('accepts a 128-character request_id and refuses a longer one with a clear error frame', async () => {
    const c = await TestClient.ready(daemon.url, { token: TOKEN });
    const ok = 'r'.repeat(128);
    c.send({ op: 'call_tool', name: 'version', request_id: ok });
    expect((await c.result(ok)).error).toBeUndefined();
    c.send({ op: 'call_tool', name: 'version', request_id: 'r'.repeat(256 * 1024) });
    expect(await c.next((f) => f.op === 'error')).toEqual({
      op: 'error',
      message: 'invalid_message: "request_id" must be at most 128 characters',
    });
    c.send({ op: 'cancel', request_id: 'c'.repeat(129) });
    expect((await c.next((f) => f.op === 'error')).message).toBe(
      'invalid_message: "request_id" must be at most 128 characters',
    );
    c.close();
  });

  it('answers a token over 4 KiB with invalid_hello and 4000', async () => {
    const c = await TestClient.connect(daemon.url);
    c.send({ op: 'hello', token: 't'.repeat(4097) });
    expect(await c.next()).toEqual({ op: 'hello_ack', ok: false, error: 'invalid_hello' });
    expect(await c.waitClose()).toEqual({ code: 4000, reason: 'invalid hello' });
  });

  it('closes with 1009 a connection whose hello exceeds EXAI_WS_MAX_HELLO_BYTES, before reading it whole', async () => {
    const c = await TestClient.connect(daemon.url);
    c.send({ op: 'hello', token: TOKEN, session_id: 'x'.repeat(4 * 1024 * 1024) });
    expect(await c.waitClose(10_000)).toEqual({ code: 1009, reason: 'hello larger than 16384 bytes' });
    expect(c.frames).toEqual([]);
    expect(await metric(daemon, 'exai_ws_refused_total', '{reason="hello_too_large"}')).toBe(1);
    // After the hello the frame limit is EXAI_WS_MAX_BYTES again.
    const ok = await TestClient.ready(daemon.url, { token: TOKEN });
    ok.send({ op: 'call_tool', request_id: 'big', name: 'test_echo', arguments: { text: 'y'.repeat(100_000) } });
    expect((await ok.result('big')).error).toBeUndefined();
    ok.close();
  });

  it('does not count a big frame pipelined right behind a small hello against the hello limit', async () => {
    const c = await TestClient.connect(daemon.url);
    c.send({ op: 'hello', token: TOKEN });
    c.send({ op: 'call_tool', request_id: 'piped', name: 'test_echo', arguments: { text: 'p'.repeat(200_000) } });
    expect(await c.next()).toMatchObject({ op: 'hello_ack', ok: true });
    expect((await c.result('piped', 10_000)).error).toBeUndefined();
    c.close();
  });

  it('answers arguments nested deeper than the limit with INVALID_ARGUMENTS', async () => {
    const c = await TestClient.ready(daemon.url, { token: TOKEN });
    let deep = '1';
    for (let i = 0; i < 20_000; i++) deep = `[${deep}]`;
    c.send(`{"op":"call_tool","request_id":"deep","name":"test_echo","arguments":{"text":"t","x":${deep}}}`);
    const res = await c.result('deep');
    expect(res.error).toMatchObject({ code: 'INVALID_ARGUMENTS' });
    expect((res.error as { message: string }).message).toMatch(/nested deeper than 64/);
    c.close();
  });
});

describe('keepalive', () => {
  it('drops a client that never reads, however many unsolicited pongs it sends', async () => {
    const daemon = await startTestDaemon({ EXAI_WS_PING_INTERVAL: '1', EXAI_WS_PING_TIMEOUT: '1' });
    try {
      const ws = new WebSocket(daemon.url, { autoPong: false });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ op: 'hello' }));
      const pongs = setInterval(() => ws.pong(Buffer.from('keep me')), 100);
      try {
        const code = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('not dropped')), 10_000);
          ws.once('close', (c) => {
            clearTimeout(timer);
            resolve(c);
          });
        });
        expect(code).toBe(1006);
      } finally {
        // Also when the drop never comes: a live interval keeps jest from exiting.
        clearInterval(pongs);
        ws.terminate();
      }
    } finally {
      await daemon.close();
    }
  });
});

describe('unauthenticated load', () => {
  it('backs off an address after failed hellos with HTTP 429, while other addresses connect', async () => {
    const daemon = await startTestDaemon({ EXAI_WS_TOKEN: TOKEN, EXAI_WS_HELLO_FAILURES_BEFORE_BACKOFF: '3' });
    try {
      for (let i = 0; i < 3; i++) {
        const bad = await TestClient.connect(daemon.url, { localAddress: '127.0.0.7' });
        bad.send({ op: 'hello', token: 'wrong' });
        expect((await bad.waitClose()).code).toBe(4003);
      }
      await expect(TestClient.connect(daemon.url, { localAddress: '127.0.0.7' })).rejects.toThrow(
        'Unexpected server response: 429',
      );
      const agent = await TestClient.ready(daemon.url, { token: TOKEN });
      agent.close();
      expect(await metric(daemon, 'exai_ws_refused_total', '{reason="backoff"}')).toBe(1);
      expect(await metric(daemon, 'exai_ws_refused_total', '{reason="unauthorized"}')).toBe(3);
    } finally {
      await daemon.close();
    }
  });

  it('lets an authenticated agent connect while hundreds of unauthenticated sockets are held open', async () => {
    const daemon = await startTestDaemon({
      EXAI_WS_TOKEN: TOKEN,
      EXAI_WS_MAX_CONNECTIONS: '300',
      EXAI_WS_MAX_PENDING_HELLOS: '64',
    });
    const flood = new Set<WebSocket>();
    let stopping = false;
    let opened = 0;
    // 400 silent sockets over 127.0.0.2–21 (20 each, under the per-address
    // cap); each one that is closed is reopened, as a flood would.
    const hold = (address: string): void => {
      if (stopping) return;
      const ws = new WebSocket(daemon.url, { localAddress: address });
      flood.add(ws);
      ws.on('open', () => opened++);
      ws.on('error', () => undefined);
      ws.on('close', () => {
        flood.delete(ws);
        setTimeout(() => hold(address), 20);
      });
    };
    try {
      for (let ip = 2; ip <= 21; ip++) for (let k = 0; k < 20; k++) hold(`127.0.0.${ip}`);
      await waitFor(() => opened >= 400, 20_000, 'the flood holding 400 sockets');
      let succeeded = 0;
      for (let i = 0; i < 20; i++) {
        try {
          const agent = await TestClient.ready(daemon.url, { token: TOKEN, session_id: `agent-${i}` });
          succeeded++;
          agent.close();
        } catch {
          // counted as a failure below
        }
      }
      expect(succeeded).toBe(20);
      expect(await metric(daemon, 'exai_ws_pending_hellos')).toBeLessThanOrEqual(64);
    } finally {
      stopping = true;
      for (const ws of flood) ws.terminate();
      await daemon.close();
    }
  }, 60_000);
});
