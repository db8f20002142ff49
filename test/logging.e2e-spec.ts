import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startDaemonProcess } from './support/daemon-process';
import { waitFor } from './support/wait';
import { TestClient } from './support/ws-client';

const TOKEN = 'tok-5ecret-never-logged';
const GLM_KEY = 'sk-glm-5ecret-never-logged';
const KIMI_KEY = 'sk-kimi-5ecret-never-logged';

/** Stops the daemon cleanly (its last lines flushed) and returns everything it wrote. */
async function stopAndRead(child: ChildProcess, output: () => string): Promise<string> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return output();
}

function jsonLines(out: string): Array<Record<string, unknown>> {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('structured logs of a real daemon process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('logs JSON with request and session ids per call, and never a token or API key', async () => {
    const daemon = await startDaemonProcess(
      { EXAI_WS_TOKEN: TOKEN, GLM_API_KEY: GLM_KEY, KIMI_API_KEY: KIMI_KEY, LOG_LEVEL: 'debug', LOG_FORMAT: 'json' },
      10_000,
    );
    child = daemon.child;
    const { url } = daemon;

    const c = await TestClient.ready(url, { token: TOKEN, session_id: 'log-session' });
    c.send({ op: 'call_tool', request_id: 'log-req-1', name: 'version' });
    await c.result('log-req-1');
    c.send({ op: 'rotate_token', old: TOKEN, new: `${TOKEN}-2` });
    await c.next((f) => f.op === 'rotate_token_res');
    const bad = await TestClient.connect(url);
    bad.send({ op: 'hello', token: `${TOKEN}-wrong` });
    await bad.waitClose();
    c.close();
    await c.waitClose();

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const out = daemon.output();
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.length).toBeGreaterThan(5);
    const callEnd = records.find((r) => r.msg === 'Call ended');
    expect(callEnd).toMatchObject({
      request_id: 'log-req-1',
      session_id: 'log-session',
      tool: 'version',
      outcome: 'success',
    });
    for (const secret of [TOKEN, GLM_KEY, KIMI_KEY]) expect(out).not.toContain(secret);

    // Every connection writes these two lines, straight to pino (see CallLogService): the same
    // fields as through Nest's logger, in the same order (msg first, which greps rely on).
    const connected = records.find((r) => r.msg === 'Client connected' && r.session_id === 'log-session')!;
    const connectionId = connected.connection_id;
    expect(connectionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.entries(connected).slice(4)).toEqual([
      ['context', 'HandshakeService'],
      ['msg', 'Client connected'],
      ['session_id', 'log-session'],
      ['connection_id', connectionId],
      ['ip', '127.0.0.1'],
    ]);
    const disconnected = records.find((r) => r.msg === 'Client disconnected' && r.connection_id === connectionId)!;
    expect(Object.entries(disconnected).slice(4)).toEqual([
      ['context', 'ToolCallsGateway'],
      ['msg', 'Client disconnected'],
      ['session_id', 'log-session'],
      ['connection_id', connectionId],
    ]);
    expect(Object.keys(connected).slice(0, 4)).toEqual(['level', 'time', 'pid', 'hostname']);
    expect(connected.level).toBe(30);

    // The listening line names the address actually bound; the banner says where to go next.
    expect(records.find((r) => String(r.msg).startsWith('EXAI Gateway listening on'))?.msg).toMatch(
      /^EXAI Gateway listening on ws:\/\/127\.0\.0\.1:(\d+)\/ \(bound 127\.0\.0\.1:\1\)$/,
    );
    const banner = String(records.find((r) => String(r.msg).startsWith('EXAI Gateway ready'))?.msg);
    const base = url.replace(/^ws/, 'http').replace(/\/$/, '');
    expect(banner).toContain(`WebSocket   ${url}`);
    expect(banner).toContain(`Status      ${base}/status`);
    expect(banner).toContain(`OpenAI API  ${base}/v1  (Authorization: Bearer <EXAI_WS_TOKEN>)`);
    const mcp = JSON.parse(/MCP server {2}(.*)$/m.exec(banner)![1]) as {
      mcpServers: { exai: { args: string[]; env: Record<string, string> } };
    };
    expect(mcp.mcpServers.exai.args[0]).toMatch(/dist[\\/]mcp[\\/]main\.js$/);
    expect(mcp.mcpServers.exai.env.EXAI_WS_URL).toBe(url);

    // Nest's per-module and per-route lines are debug, not info.
    const wiring = records.filter((r) =>
      ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(String(r.context)),
    );
    expect(wiring.length).toBeGreaterThan(5);
    expect(wiring.every((r) => r.level === 20)).toBe(true);
  });
  it('gathers JSON lines: start-up lines at once, then a batch once 4 KiB wait, and every line by the end of shutdown', async () => {
    // A flush interval far beyond this test: only the 4 KiB rule and shutdown can write the call lines.
    const daemon = await startDaemonProcess(
      { EXAI_WS_TOKEN: '', LOG_LEVEL: 'info', LOG_FORMAT: 'json', LOG_FLUSH_MS: '10000' },
      8_000,
    );
    child = daemon.child;
    const ended = () => jsonLines(daemon.output()).filter((r) => r.msg === 'Call ended');
    const c = await TestClient.ready(daemon.url, { session_id: 'gathered' });
    // About 250 bytes a line: 40 calls put 10 KiB in wait, past two batches.
    for (let i = 0; i < 40; i++) {
      c.send({ op: 'call_tool', request_id: `g${i}`, name: 'version' });
      await c.result(`g${i}`);
    }
    await waitFor(() => ended().length >= 10, 8_000, 'a first batch of call lines');
    c.send({ op: 'call_tool', request_id: 'last', name: 'version' });
    await c.result('last');
    c.close();
    const all = jsonLines(await stopAndRead(child, daemon.output)).filter((r) => r.msg === 'Call ended');
    expect(all.map((r) => r.request_id)).toEqual([...Array.from({ length: 40 }, (_, i) => `g${i}`), 'last']);
  });

  it('writes the lines still gathered when the process exits without a shutdown, as a crash does', async () => {
    const daemon = await startDaemonProcess(
      {
        EXAI_WS_TOKEN: '',
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        LOG_FLUSH_MS: '10000',
        NODE_OPTIONS: `--require ${join(__dirname, 'fixtures', 'exit-on-sigusr2.js')}`,
      },
      8_000,
    );
    child = daemon.child;
    const c = await TestClient.ready(daemon.url, { session_id: 'crash' });
    c.send({ op: 'call_tool', request_id: 'before-exit', name: 'version' });
    await c.result('before-exit');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGUSR2');
    expect(await exited).toBe(3);
    const ended = jsonLines(daemon.output()).filter((r) => r.msg === 'Call ended');
    expect(ended.map((r) => r.request_id)).toEqual(['before-exit']);
  });

  it('logs one line per HTTP request with its method, path, status and time, and none of its headers', async () => {
    // Clients send credentials in more headers than any redaction list names
    // (x-api-key, api-key, proxy-authorization, custom ones): none may reach the log.
    const daemon = await startDaemonProcess({ EXAI_WS_TOKEN: TOKEN, LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, 10_000);
    child = daemon.child;
    const base = daemon.url.replace(/^ws/, 'http').replace(/\/$/, '');
    const headerSecrets = {
      'x-api-key': 'sk-x-api-key-5ecret',
      'api-key': 'sk-api-key-5ecret',
      'proxy-authorization': 'Basic cHJveHktNWVjcmV0',
      'x-custom-credential': 'custom-5ecret',
    };
    const res = await fetch(`${base}/v1/chat/completions?trace=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headerSecrets },
      body: JSON.stringify({ model: 'glm-4.5-flash', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(200);
    await res.json();
    const out = await stopAndRead(child, daemon.output);
    for (const secret of [TOKEN, ...Object.values(headerSecrets)]) expect(out).not.toContain(secret);
    const records = jsonLines(out);
    const completed = records.filter((r) => r.msg === 'request completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      level: 30,
      req: { method: 'POST', url: '/v1/chat/completions?trace=1', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
    });
    expect(typeof completed[0].responseTime).toBe('number');
    expect(completed[0].req).not.toHaveProperty('headers');
    expect(completed[0].res).not.toHaveProperty('headers');
  });
  it('logs one "Call ended" line per /v1 chat completion, with its ids, route and outcome', async () => {
    // No keys: the embedded simulator answers, so nothing leaves the machine.
    const daemon = await startDaemonProcess({ EXAI_WS_TOKEN: '', LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, 10_000);
    child = daemon.child;
    const base = daemon.url.replace(/^ws/, 'http').replace(/\/$/, '');
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'glm-4.5-flash', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.status).toBe(200);
    await res.json();
    const records = jsonLines(await stopAndRead(child, daemon.output));
    const ended = records.filter((r) => r.msg === 'Call ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({
      level: 30,
      context: 'ChatCompletionsService',
      tool: 'v1.chat.completions',
      provider: 'GLM',
      model: 'glm-4.5-flash',
      outcome: 'success',
      admitted: true,
    });
    expect(typeof ended[0].request_id).toBe('string');
    expect(typeof ended[0].duration_ms).toBe('number');
  });
});
