import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { freePort } from './support/redis';
import { join } from 'node:path';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { waitFor } from './support/wait';

const BRIDGE = join(__dirname, '..', 'dist', 'mcp', 'main.js');

type TextContent = { type: string; text: string };

function textOf(result: unknown): string {
  return ((result as { content: TextContent[] }).content[0] ?? { text: '' }).text;
}

describe('exai-mcp: the stdio MCP bridge, driven by the MCP SDK client', () => {
  let daemon: TestDaemon;
  let port: number;
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';

  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'simulated',
      EXAI_WS_SESSION_MAX_INFLIGHT: '16',
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '16',
      EXAI_WS_PROGRESS_INTERVAL_SECS: '1',
    });
    port = Number(new URL(daemon.httpUrl).port);
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [BRIDGE],
      env: { ...(process.env as Record<string, string>), EXAI_WS_URL: daemon.url, EXAI_SESSION_ID: 'mcp-agent' },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'exai-test-host', version: '1.0.0' });
    await client.connect(transport);
  });

  afterAll(async () => {
    await client.close();
    await daemon.close();
  });

  it('lists the daemon’s tools', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['chat', 'version', 'test_echo', 'thinkdeep']));
    const echo = tools.find((t) => t.name === 'test_echo')!;
    expect(echo.inputSchema).toMatchObject({ type: 'object', required: ['text'] });
  });

  it('runs 10 concurrent calls on one socket, each result matched to its own call', async () => {
    const gates = Array.from({ length: 10 }, (_, i) => `mcp-concurrent-${i}`);
    const runsBefore = daemon.probe.runs.get('test_gate') ?? 0;
    const done: string[] = [];
    const results = gates.map((gate) =>
      client.callTool({ name: 'test_gate', arguments: { gate } }).then((r) => {
        done.push(gate);
        return r;
      }),
    );
    // All ten run at the same time: none can finish before its gate opens.
    await waitFor(() => (daemon.probe.runs.get('test_gate') ?? 0) - runsBefore === 10, 10_000, 'ten running calls');
    expect(done).toEqual([]);
    // Opened last to first, each call gets its own answer.
    for (const i of [...gates.keys()].reverse()) {
      daemon.probe.open(gates[i]);
      const result = await results[i];
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toBe(`gate ${gates[i]} opened`);
    }
    expect(done).toEqual([...gates].reverse());
  });

  it('turns progress frames into MCP progress notifications, every one with a message', async () => {
    const notes: Array<string | undefined> = [];
    const result = await client.callTool(
      { name: 'test_echo', arguments: { text: 'slow', delay_ms: 2500 } },
      undefined,
      { onprogress: (p) => notes.push(p.message) },
    );
    expect(textOf(result)).toBe('slow');
    expect(notes).toEqual(expect.arrayContaining(['accepted', 'sleeping 2500ms']));
    // The daemon's heartbeat (every second here) carries no text of its own.
    expect(notes).toContainEqual(expect.stringMatching(/^working \(\d+ s\)$/));
    expect(notes.every((m) => typeof m === 'string' && m.length > 0)).toBe(true);
  });

  it('flags an answer served from the result cache, for the agent (a text block) and the host (_meta)', async () => {
    const first = await client.callTool({ name: 'test_echo', arguments: { text: 'once only' } });
    const second = await client.callTool({ name: 'test_echo', arguments: { text: 'once only' } });
    expect(first.content).toEqual([{ type: 'text', text: 'once only' }]);
    expect(first._meta).toBeUndefined();
    expect(second.content).toEqual([
      { type: 'text', text: 'once only' },
      { type: 'text', text: expect.stringMatching(/^\[from_cache\] Served from the EXAI result cache/) as unknown },
    ]);
    expect(second._meta).toEqual({ 'exai/from_cache': true });
    expect(second.isError).toBeFalsy();
  });

  it('returns tool errors as isError with the code, and OVER_CAPACITY with its retry time', async () => {
    const failed = await client.callTool({ name: 'test_fail', arguments: { message: 'boom' } });
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toBe('EXEC_ERROR: boom.');
    const unknown = await client.callTool({ name: 'no_such_tool', arguments: {} });
    expect(textOf(unknown)).toMatch(/^TOOL_NOT_FOUND: Unknown tool: no_such_tool/);
  });

  it('sends an MCP cancellation to the daemon as cancel, which releases the lease', async () => {
    const snap = daemon.app.get(ConcurrencySnapshotService);
    const controller = new AbortController();
    const pending = client.callTool({ name: 'test_gate', arguments: { gate: 'never-mcp' } }, undefined, {
      signal: controller.signal,
    });
    await waitFor(async () => (await snap.snapshot()).inFlight.global === 1);
    const abortedBefore = daemon.probe.aborted.length;
    controller.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(
      async () => (await snap.snapshot()).inFlight.global === 0 && daemon.probe.aborted.length === abortedBefore + 1,
    );
  });

  it('survives a daemon restart: calls lost in the drop fail clearly, later calls succeed', async () => {
    const lost = client.callTool({ name: 'test_gate', arguments: { gate: 'never-restart' } });
    await waitFor(() => daemon.probe.runs.get('test_gate') !== undefined);
    await daemon.close();
    const lostResult = await lost;
    expect(lostResult.isError).toBe(true);
    // A graceful restart ends the call with SHUTTING_DOWN; a crash would give DISCONNECTED.
    expect(textOf(lostResult)).toMatch(/^(SHUTTING_DOWN|DISCONNECTED): /);
    daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' }, { port });
    await waitFor(() => /Connected to the daemon/.test(stderr.split('Reconnecting').at(-1) ?? ''), 10000);
    const after = await client.callTool({ name: 'test_echo', arguments: { text: 'back again' } });
    expect(textOf(after)).toBe('back again');
    expect(stderr).toMatch(/Reconnecting to ws:\/\/127\.0\.0\.1/);
  });
});

/** A bridge process and the MCP SDK client that drives it, for the tests that need their own. */
async function bridgeFor(env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BRIDGE],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: 'pipe',
  });
  const out = { stderr: '' };
  transport.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const client = new Client({ name: 'exai-test-host', version: '1.0.0' });
  const listChanged: number[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged.push(Date.now());
  });
  await client.connect(transport);
  return { client, out, listChanged };
}

describe('exai-mcp: conversations, tool-list changes and a refused token', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  const daemons: TestDaemon[] = [];
  const clients: Client[] = [];

  beforeAll(() => sim.start(0, '127.0.0.1'));
  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const d of daemons) await d.close();
    await sim.stop();
  });

  async function daemon(env: Record<string, string> = {}, port?: number): Promise<TestDaemon> {
    const d = await startTestDaemon(
      {
        EXAI_PROVIDERS_MODE: 'real',
        GLM_API_KEY: 'sim-glm-key',
        KIMI_API_KEY: 'sim-kimi-key',
        GLM_API_URL: sim.glmBaseUrl,
        KIMI_API_URL: sim.kimiBaseUrl,
        ...env,
      },
      { port },
    );
    daemons.push(d);
    return d;
  }

  it('holds a two-turn conversation: continuation_id, model and usage come back, and turn 2 carries turn 1', async () => {
    const d = await daemon();
    const { client } = await bridgeFor({ EXAI_WS_URL: d.url, EXAI_SESSION_ID: 'mcp-conversation' });
    clients.push(client);
    const first = await client.callTool({ name: 'chat', arguments: { prompt: 'my favourite colour is teal' } });
    expect(first.isError).toBeFalsy();
    const s1 = first.structuredContent as {
      content: string;
      continuation_id: string;
      model: string;
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    expect(s1).toMatchObject({ model: 'glm-4.5-flash', provider: 'GLM', continuation_id: expect.any(String) });
    expect(s1.usage.completion_tokens).toBeGreaterThan(0);
    expect((first.content as TextContent[]).map((c) => c.text)).toEqual([
      s1.content,
      `— model glm-4.5-flash · tokens ${s1.usage.prompt_tokens} in / ${s1.usage.completion_tokens} out · continuation_id ${s1.continuation_id}`,
    ]);

    const second = await client.callTool({
      name: 'chat',
      arguments: { prompt: 'which colour did I name?', continuation_id: s1.continuation_id },
    });
    expect((second.structuredContent as { continuation_id: string }).continuation_id).toBe(s1.continuation_id);
    const sent = sim.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!.body as {
      messages: Array<{ role: string; content: string }>;
    };
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent.messages[0].content).toContain('teal');
    expect(sent.messages[1].content).toBe(s1.content);
  });

  it('a host started before the daemon is told the tool list changed once the daemon is up', async () => {
    const port = await freePort();
    const { client, out, listChanged } = await bridgeFor({ EXAI_WS_URL: `ws://127.0.0.1:${port}/` });
    clients.push(client);
    expect(client.getServerCapabilities()?.tools).toEqual({ listChanged: true });
    await waitFor(() => /Daemon not reachable/.test(out.stderr), 10_000, 'a failed first attempt');
    expect(listChanged).toHaveLength(0);

    await daemon({}, port);
    await waitFor(() => listChanged.length === 1, 15_000, 'notifications/tools/list_changed');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['chat', 'thinkdeep']));
  });

  it('a refused token ends the retry loop with one clear error, and calls fail with it at once', async () => {
    const d = await daemon({ EXAI_WS_TOKEN: 'the-right-token' });
    const { client, out } = await bridgeFor({ EXAI_WS_URL: d.url, EXAI_WS_TOKEN: 'a-wrong-token' });
    clients.push(client);
    await waitFor(() => /refused the connection/.test(out.stderr), 10_000, 'the refusal logged');
    const result = await client.callTool({ name: 'chat', arguments: { prompt: 'hi' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/refused the connection .*EXAI_WS_TOKEN/);
    await expect(client.listTools()).rejects.toThrow(/refused the connection/);
    expect(out.stderr.match(/refused the connection/g)).toHaveLength(1);
    expect(out.stderr).not.toMatch(/retrying in/);
  });
});
