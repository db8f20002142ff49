import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join } from 'node:path';
import { ExaiCallError, ExaiClient } from '../src/client/exai-client';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { Frame, TestClient } from './support/ws-client';
import { waitFor } from './support/wait';

/** Every call_tool_res received so far, by request id. */
function resultsById(c: TestClient): Map<string, Frame[]> {
  const out = new Map<string, Frame[]>();
  for (const f of c.frames) {
    if (f.op !== 'call_tool_res') continue;
    const id = String(f.request_id);
    out.set(id, [...(out.get(id) ?? []), f]);
  }
  return out;
}

describe('per-connection rate limit: every call still ends', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_WS_RATE_LIMIT_PER_SEC: '10',
      EXAI_WS_RATE_LIMIT_BURST: '20',
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '200',
      EXAI_WS_SESSION_MAX_INFLIGHT: '200',
    });
  });
  afterAll(() => daemon.close());

  it('ends each of 150 burst calls in exactly one call_tool_res; throttled ones carry RATE_LIMITED and retry_after', async () => {
    const c = await TestClient.ready(daemon.url);
    const ids = Array.from({ length: 150 }, (_, i) => `burst-${i}`);
    for (const id of ids) c.send({ op: 'call_tool', request_id: id, name: 'test_echo', arguments: { text: id } });
    await waitFor(() => resultsById(c).size === ids.length, 10_000, 'a result for every call');
    await c.quietFor(200);
    const results = resultsById(c);
    expect(ids.filter((id) => results.get(id)?.length !== 1)).toEqual([]);
    const limited = ids.map((id) => results.get(id)![0]).filter((f) => f.error !== undefined);
    expect(limited.length).toBeGreaterThan(100);
    for (const f of limited) {
      expect(f.error).toMatchObject({ code: 'RATE_LIMITED' });
      expect((f.error as { retry_after: number }).retry_after).toBeGreaterThan(0);
    }
    expect(c.frames.filter((f) => f.op === 'error')).toEqual([]);
    c.close();
  });

  it('gives a throttled call without request_id a server-issued id on its result', async () => {
    const c = await TestClient.ready(daemon.url);
    for (let i = 0; i < 40; i++) c.send({ op: 'call_tool', name: 'test_echo', arguments: { text: `anon-${i}` } });
    await waitFor(() => c.frames.filter((f) => f.op === 'call_tool_res').length === 40, 10_000, '40 results');
    const limited = c.frames.filter((f) => f.op === 'call_tool_res' && f.error !== undefined);
    expect(limited.length).toBeGreaterThan(0);
    for (const f of limited) expect(f.request_id).toMatch(/^[0-9a-f-]{36}$/);
    c.close();
  });

  it('never throttles away a cancel of a running call, nor a health request', async () => {
    const c = await TestClient.ready(daemon.url);
    c.send({ op: 'call_tool', request_id: 'held', name: 'test_gate', arguments: { gate: 'rl-never' } });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'held');
    for (let i = 0; i < 40; i++) c.send({ op: 'list_tools', request_id: `l${i}` });
    c.send({ op: 'cancel', request_id: 'held' });
    c.send({ op: 'health' });
    const res = await c.result('held');
    expect(res.error).toMatchObject({ code: 'CANCELLED' });
    const health = await c.next((f) => f.op === 'health_res');
    expect(health.ok === true || health.error === 'RATE_LIMITED').toBe(true);
    if (health.ok !== true) expect(health.retry_after).toBeGreaterThan(0);
    // A throttled list_tools names its request so a multiplexing client can fail just that one.
    const limited = await c.next((f) => f.op === 'error');
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', request_id: expect.stringMatching(/^l\d+$/) });
    expect(limited.message).toMatch(/^rate_limit_exceeded: retry after \d+(\.\d)?s$/);
    c.close();
  });

  it('ExaiClient settles every one of 80 concurrent calls, the throttled ones as RATE_LIMITED errors', async () => {
    const client = new ExaiClient({ url: daemon.url });
    try {
      await client.connect();
      const settled = await Promise.allSettled(
        Array.from({ length: 80 }, (_, i) => client.callTool('test_echo', { text: `c${i}` })),
      );
      const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected) {
        expect(r.reason).toBeInstanceOf(ExaiCallError);
        expect((r.reason as ExaiCallError).code).toBe('RATE_LIMITED');
        expect((r.reason as ExaiCallError).retryAfter).toBeGreaterThan(0);
      }
      // Throttled control ops fail on their own too, instead of waiting forever.
      const controls = await Promise.allSettled([
        ...Array.from({ length: 40 }, () => client.listTools()),
        client.health(),
      ]);
      for (const s of controls) {
        if (s.status === 'rejected') expect((s.reason as ExaiCallError).code).toBe('RATE_LIMITED');
      }
    } finally {
      client.close();
    }
  });
});

describe('exai-mcp under the rate limit', () => {
  it('returns a throttled call as an isError result with the retry hint, and every call ends', async () => {
    const daemon = await startTestDaemon({
      EXAI_WS_RATE_LIMIT_PER_SEC: '5',
      EXAI_WS_RATE_LIMIT_BURST: '10',
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '100',
      EXAI_WS_SESSION_MAX_INFLIGHT: '100',
    });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(__dirname, '..', 'dist', 'mcp', 'main.js')],
      env: { ...(process.env as Record<string, string>), EXAI_WS_URL: daemon.url, EXAI_SESSION_ID: 'mcp-rl' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'exai-rate-limit-host', version: '1.0.0' });
    try {
      await client.connect(transport);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => client.callTool({ name: 'test_echo', arguments: { text: `p${i}` } })),
      );
      const errors = results.filter((r) => r.isError === true);
      expect(errors.length).toBeGreaterThan(0);
      for (const r of errors) {
        const text = (r.content as Array<{ text: string }>)[0].text;
        expect(text).toMatch(/^RATE_LIMITED: .*Retry after \d+(\.\d)? s\.$/);
      }
    } finally {
      await client.close();
      await daemon.close();
    }
  });
});

describe('default rate limit', () => {
  it('does not throttle an MCP host that lists tools and fires 60 calls at once', async () => {
    const daemon = await startTestDaemon({
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '100',
      EXAI_WS_SESSION_MAX_INFLIGHT: '100',
    });
    const client = new ExaiClient({ url: daemon.url });
    try {
      await client.connect();
      await client.listTools();
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => client.callTool('test_echo', { text: `m${i}` })),
      );
      expect(results.map((r) => r.content)).toEqual(Array.from({ length: 60 }, (_, i) => `m${i}`));
    } finally {
      client.close();
      await daemon.close();
    }
  });
});
