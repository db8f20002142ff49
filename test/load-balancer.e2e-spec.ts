import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join } from 'node:path';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { DaemonProcess, startDaemonProcess } from './support/daemon-process';
import { TestHaproxy } from './support/haproxy';
import { TestRedis } from './support/redis';
import { simulatorEnv } from './support/simulator-env';
import { waitFor } from './support/wait';
import { TestClient } from './support/ws-client';

const BRIDGE = join(__dirname, '..', 'dist', 'mcp', 'main.js');
const TOKEN = 'lb-shared-token';
/** Each daemon's cap on connections from one address. */
const PER_ADDRESS = 3;

type TextContent = { type: string; text: string };
type ChatStructured = { content: string; continuation_id: string; model: string };

const httpUrlOf = (d: DaemonProcess) => d.url.replace(/^ws:/, 'http:').replace(/\/$/, '');

/** Open WebSockets on one daemon, from its own /metrics (loopback: no token needed). */
async function connectionsOn(d: DaemonProcess): Promise<number> {
  const text = await (await fetch(`${httpUrlOf(d)}/metrics`)).text();
  const m = /^exai_ws_connections (\d+)$/m.exec(text);
  if (!m) throw new Error(`no exai_ws_connections in ${httpUrlOf(d)}/metrics`);
  return Number(m[1]);
}

async function killHard(d: DaemonProcess): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    d.child.once('exit', () => resolve());
    d.child.kill('SIGKILL');
  });
}

/** A hello through the balancer from one loopback address: the open socket, or how the daemon closed it. */
async function helloFrom(
  url: string,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<{ socket?: TestClient; closed?: string }> {
  const socket = await TestClient.connect(url, { localAddress, headers });
  socket.send({ op: 'hello', token: TOKEN });
  try {
    const ack = await socket.next(() => true, 10_000);
    return ack.op === 'hello_ack' && ack.ok === true ? { socket } : { closed: JSON.stringify(ack) };
  } catch {
    const { code, reason } = await socket.waitClose(10_000);
    return { closed: `${code} ${reason}` };
  }
}

function textOf(result: unknown): string {
  return ((result as { content: TextContent[] }).content ?? []).map((c) => c.text).join('\n');
}

describe('two daemons behind HAProxy running deploy/haproxy.cfg (Debian haproxy, loopback)', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let redis: TestRedis;
  let daemons: DaemonProcess[] = [];
  let lb: TestHaproxy;
  const clients: Client[] = [];
  const sockets: TestClient[] = [];

  beforeAll(async () => {
    await sim.start(0, '127.0.0.1');
    redis = await TestRedis.start();
    const env = {
      ...simulatorEnv(sim),
      EXAI_CONCURRENCY_BACKEND: 'redis',
      EXAI_STATE_BACKEND: 'redis',
      REDIS_URL: redis.url,
      EXAI_WS_TOKEN: TOKEN,
      // HAProxy reaches the daemons from 127.0.0.1; agents come from other loopback addresses.
      EXAI_TRUSTED_PROXIES: '127.0.0.1',
      EXAI_WS_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS),
    };
    daemons = await Promise.all([startDaemonProcess(env, 30_000), startDaemonProcess(env, 30_000)]);
    lb = await TestHaproxy.start(daemons.map((d, i) => ({ name: `daemon-${i}`, port: Number(new URL(d.url).port) })));
  }, 90_000);

  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const c of clients) await c.close().catch(() => undefined);
    await lb?.stop();
    for (const d of daemons) await killHard(d);
    await redis?.stop();
    await sim.stop();
  });

  it('serves /v1 and /health through the balancer, and refuses what describes a single daemon', async () => {
    const ready = await fetch(`${lb.httpUrl}/health/ready`);
    expect(ready.status).toBe(200);
    const models = await fetch(`${lb.httpUrl}/v1/models`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toContain('glm-4.6');
    // The daemon's own auth answers: the balancer passes the request through, it does not serve it.
    expect((await fetch(`${lb.httpUrl}/v1/models`)).status).toBe(401);
    for (const path of ['/metrics', '/status', '/']) {
      const res = await fetch(`${lb.httpUrl}${path}`, { redirect: 'manual' });
      expect({ path, status: res.status, body: await res.text() }).toEqual({
        path,
        status: 404,
        body: expect.stringMatching(/^Not served through the balancer/) as unknown,
      });
    }
  });

  it('sends each new WebSocket to the daemon with the fewest (leastconn), on any upgrade path', async () => {
    const counts = () => Promise.all(daemons.map(connectionsOn));
    const placed: Array<{ socket: TestClient; on: number }> = [];
    for (const path of ['/', '/ws', '/', '/any/path']) {
      const before = await counts();
      const socket = await TestClient.ready(`${lb.wsUrl.replace(/\/$/, '')}${path}`, { token: TOKEN });
      sockets.push(socket);
      let after = before;
      await waitFor(async () => {
        after = await counts();
        return after[0] + after[1] === before[0] + before[1] + 1;
      }, 10_000);
      placed.push({ socket, on: after[0] > before[0] ? 0 : 1 });
    }
    expect(await counts()).toEqual([2, 2]);
    // Emptying one daemon: round-robin would split the next two; leastconn sends both there.
    const emptied = placed[0].on;
    for (const p of placed.filter((p) => p.on === emptied)) {
      p.socket.close();
      await p.socket.waitClose(10_000);
    }
    await waitFor(async () => (await connectionsOn(daemons[emptied])) === 0, 10_000, 'the emptied daemon at 0');
    for (let i = 0; i < 2; i++) sockets.push(await TestClient.ready(lb.wsUrl, { token: TOKEN }));
    await waitFor(async () => (await connectionsOn(daemons[emptied])) === 2, 10_000, 'both new sockets on it');
    expect(await connectionsOn(daemons[1 - emptied])).toBe(2);
    for (const s of sockets.splice(0)) s.close();
    await waitFor(async () => (await counts()).every((n) => n === 0), 10_000, 'every socket closed');
  });

  it('applies the per-address connection cap to each agent behind it, by the address HAProxy saw', async () => {
    const opened: TestClient[] = [];
    // One agent address: PER_ADDRESS on each daemon, then refused, even when it claims another address.
    for (let i = 0; i < 2 * PER_ADDRESS; i++) {
      const { socket, closed } = await helloFrom(lb.wsUrl, '127.0.0.2', { 'X-Forwarded-For': `127.0.0.${20 + i}` });
      expect(closed).toBeUndefined();
      opened.push(socket!);
    }
    sockets.push(...opened);
    expect(await helloFrom(lb.wsUrl, '127.0.0.2', { 'X-Forwarded-For': '127.0.0.99' })).toEqual({
      closed: '1008 too many connections from this address',
    });
    // Another agent behind the same balancer is not counted with it.
    const other = await helloFrom(lb.wsUrl, '127.0.0.3');
    expect(other.closed).toBeUndefined();
    sockets.push(other.socket!);
    // The daemon logs the agent's own address (pino writes after the ack, so wait for the line).
    const logged = () => daemons.map((d) => d.output()).join('');
    await waitFor(() => /"msg":"Client connected"[^\n]*"ip":"127\.0\.0\.3"/.test(logged()), 10_000, 'the log line');
    expect(logged()).not.toMatch(/"ip":"127\.0\.0\.(2[0-9]|99)"/);
    for (const s of sockets.splice(0)) s.close();
    await waitFor(async () => (await Promise.all(daemons.map(connectionsOn))).every((n) => n === 0), 10_000);
  });

  it('an MCP bridge session survives the loss of its daemon: the bridge reconnects through the balancer and its conversation goes on with its history', async () => {
    let bridgeLog = '';
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BRIDGE],
      env: {
        ...(process.env as Record<string, string>),
        EXAI_WS_URL: lb.wsUrl,
        EXAI_WS_TOKEN: TOKEN,
        EXAI_SESSION_ID: 'agent-behind-lb',
      },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (d: Buffer) => (bridgeLog += d.toString()));
    const client = new Client({ name: 'exai-test-host', version: '1.0.0' });
    clients.push(client);
    await client.connect(transport);
    const connects = () => bridgeLog.match(/Connected to the daemon \(session agent-behind-lb\)/g)?.length ?? 0;
    await waitFor(() => connects() === 1, 15_000, 'the bridge connected');

    const first = await client.callTool({ name: 'chat', arguments: { prompt: 'my favourite colour is teal' } });
    expect(first.isError ? textOf(first) : 'ok').toBe('ok');
    const turn1 = first.structuredContent as ChatStructured;
    expect(turn1.continuation_id).toEqual(expect.any(String));

    const placement = await Promise.all(daemons.map(connectionsOn));
    expect([...placement].sort()).toEqual([0, 1]);
    const victim = daemons[placement.indexOf(1)];
    const survivor = daemons[placement.indexOf(0)];

    // A call in flight on the victim when it dies ends with a clear error, not a hang.
    const openBefore = sim.openRequests;
    const lost = client.callTool({ name: 'chat', arguments: { prompt: '[[sim:stall]] never answered' } });
    await waitFor(() => sim.openRequests === openBefore + 1, 15_000, 'the stalled call reaching the provider');
    await killHard(victim);
    const lostResult = await lost;
    expect(lostResult.isError).toBe(true);
    expect(textOf(lostResult)).toMatch(/^DISCONNECTED: connection to the daemon was lost .*outcome is unknown/);

    await waitFor(() => connects() === 2, 30_000, 'the bridge reconnected through the balancer');
    expect(await connectionsOn(survivor)).toBe(1);

    // The next turn of the conversation, on the survivor, carries turn 1.
    const second = await client.callTool({
      name: 'chat',
      arguments: { prompt: 'which colour did I name?', continuation_id: turn1.continuation_id },
    });
    expect(second.isError ? textOf(second) : 'ok').toBe('ok');
    expect((second.structuredContent as ChatStructured).continuation_id).toBe(turn1.continuation_id);
    const sent = sim.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!.body as {
      messages: Array<{ role: string; content: string }>;
    };
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent.messages[0].content).toContain('teal');
    expect(sent.messages[1].content).toBe(turn1.content);
    expect(sent.messages[2].content).toContain('which colour did I name?');
  });

  it('when no daemon is ready (Redis gone, closed mode) it still sends agents to a live one, which answers them itself', async () => {
    // After the test above one daemon is left. Readiness fails on every daemon at once: the cause is shared.
    const survivor = daemons.find((d) => d.child.exitCode === null && d.child.signalCode === null)!;
    await redis.stop();
    await waitFor(
      async () => (await fetch(`${httpUrlOf(survivor)}/health/ready`)).status === 503,
      30_000,
      'the daemon not ready',
    );
    await waitFor(
      () => /is DOWN.*0 active and \d+ backup servers left/.test(lb.output()),
      30_000,
      'HAProxy: no server ready',
    );

    // The readiness answer through the balancer is the daemon's own, naming what is down.
    const ready = await fetch(`${lb.httpUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { error: Record<string, unknown> }).error).toHaveProperty('limiter');
    // An agent connects and gets the daemon's refusal, with when to retry, not a bare 503 at the upgrade.
    const agent = await TestClient.ready(lb.wsUrl, { token: TOKEN });
    sockets.push(agent);
    agent.send({ op: 'call_tool', request_id: 'while-redis-is-down', name: 'chat', arguments: { prompt: 'hello?' } });
    const res = await agent.result('while-redis-is-down', 15_000);
    expect(res.error).toMatchObject({ code: 'OVER_CAPACITY', retry_after: expect.any(Number) as unknown });
  });
});
