import { startTestDaemon, TestDaemon } from './support/daemon';
import { expectCancelsBehindCallsLand } from './support/cancel-behind';
import { Frame, TestClient, toolOutput } from './support/ws-client';
import { waitFor } from './support/wait';

/** The raw text of every call_tool_res `client` receives from now on, in order. */
function rawResults(client: TestClient): string[] {
  const texts: string[] = [];
  client.ws.on('message', (data) => {
    const text = (data as Buffer).toString('utf8');
    if (text.includes('"op":"call_tool_res"')) texts.push(text);
  });
  return texts;
}

describe('call_tool lifecycle', () => {
  let daemon: TestDaemon;
  let c: TestClient;
  let session: string;
  beforeAll(async () => {
    // Limits wide enough that admission never queues here; the concurrency
    // suites cover queueing.
    daemon = await startTestDaemon({
      EXAI_WS_PROGRESS_INTERVAL_SECS: '1',
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '64',
      EXAI_WS_SESSION_MAX_INFLIGHT: '64',
    });
  });
  afterAll(() => daemon.close());
  beforeEach(async () => {
    session = `s-${expect.getState().currentTestName?.length}-${Date.now()}`;
    c = await TestClient.ready(daemon.url, { session_id: session });
  });
  afterEach(() => c.close());

  it('lists the built-in tools and the extension module tools', async () => {
    c.send({ op: 'list_tools' });
    const res = await c.next();
    expect(res.op).toBe('list_tools_res');
    expect(res).not.toHaveProperty('request_id');
    const names = (res.tools as Array<{ name: string }>).map((t) => t.name).sort();
    expect(names).toEqual([
      'activity',
      'analyze',
      'challenge',
      'chat',
      'codereview',
      'consensus',
      'debug',
      'docgen',
      'glm_payload_preview',
      'glm_upload_file',
      'glm_web_search',
      'health',
      'kimi_chat_with_files',
      'kimi_chat_with_tools',
      'kimi_intent_analysis',
      'kimi_manage_files',
      'kimi_upload_files',
      'listmodels',
      'planner',
      'precommit',
      'provider_capabilities',
      'refactor',
      'secaudit',
      'status',
      'test_echo',
      'test_fail',
      'test_gate',
      'testgen',
      'thinkdeep',
      'tracer',
      'version',
    ]);
    for (const t of res.tools as Array<Record<string, unknown>>) {
      expect(Object.keys(t).sort()).toEqual(['description', 'inputSchema', 'name']);
    }
  });

  it('sends accepted, ack, then exactly one result, in that order', async () => {
    c.send({ op: 'call_tool', request_id: 'r1', name: 'test_echo_EXAI-WS', arguments: { text: 'hi' } });
    const frames = await c.callFrames('r1');
    expect(frames.map((f) => f.op)).toEqual(['progress', 'call_tool_ack', 'call_tool_res']);
    expect(frames[0]).toMatchObject({ op: 'progress', request_id: 'r1', name: 'test_echo', note: 'accepted' });
    expect(typeof frames[0].t).toBe('number');
    expect(frames[1]).toEqual({
      op: 'call_tool_ack',
      request_id: 'r1',
      accepted: true,
      timeout: 120,
      name: 'test_echo',
    });
    const res = frames[2];
    const out = toolOutput(res);
    expect(out).toMatchObject({ status: 'success', content: 'hi', content_type: 'text' });
    expect(out.metadata).toMatchObject({ tool: 'test_echo', request_id: 'r1' });
    expect(typeof out.metadata.duration_ms).toBe('number');
    expect(res.text).toBe((res.outputs as Array<{ text: string }>)[0].text);
    // A later call on the same connection, through the same pipeline, has been
    // answered: a second frame for r1 would have arrived before it.
    c.send({ op: 'call_tool', request_id: 'r1-after', name: 'test_echo', arguments: { text: 'after r1' } });
    expect(toolOutput(await c.result('r1-after')).content).toBe('after r1');
    expect(c.frames.filter((f) => f.request_id === 'r1')).toEqual([]);
  });

  it.each(['version_EXAI-WS', 'version-EXAI-WS', 'version_EXAI_WS', 'version-EXAI_WS', 'version'])(
    'normalises the tool name %s',
    async (name) => {
      c.send({ op: 'call_tool', request_id: 'n', name });
      const res = await c.result('n');
      expect(JSON.parse(toolOutput(res).content)).toMatchObject({ name: 'exai-gateway', node: process.version });
    },
  );

  it('answers an unknown tool with TOOL_NOT_FOUND and nothing before it', async () => {
    c.send({ op: 'call_tool', request_id: 'u1', name: 'nope_EXAI-WS' });
    expect(await c.callFrames('u1')).toEqual([
      {
        op: 'call_tool_res',
        request_id: 'u1',
        error: { code: 'TOOL_NOT_FOUND', message: 'Unknown tool: nope_EXAI-WS' },
      },
    ]);
  });

  it('answers schema violations with INVALID_ARGUMENTS and the failing paths', async () => {
    c.send({ op: 'call_tool', request_id: 'a1', name: 'test_echo', arguments: { text: 5, delay_ms: -1 } });
    const [res] = await c.callFrames('a1');
    expect(res.error).toMatchObject({ code: 'INVALID_ARGUMENTS' });
    const details = (res.error as { details: Array<{ path: string }> }).details.map((d) => d.path).sort();
    expect(details).toEqual(['/delay_ms', '/text']);
  });

  it('names the allowed values when an enum argument is wrong', async () => {
    c.send({ op: 'call_tool', request_id: 'en', name: 'chat', arguments: { prompt: 'x', thinking_mode: 'extreme' } });
    const [res] = await c.callFrames('en');
    expect(res.error).toMatchObject({
      code: 'INVALID_ARGUMENTS',
      details: [{ path: '/thinking_mode', message: 'must be one of "minimal", "low", "medium", "high", "max"' }],
    });
  });

  it('sends heartbeats and tool progress to the caller while it runs', async () => {
    c.send({ op: 'call_tool', request_id: 'hb', name: 'test_echo', arguments: { text: 'slow', delay_ms: 1300 } });
    const frames = await c.callFrames('hb');
    const progress = frames.filter((f) => f.op === 'progress');
    expect(progress.some((f) => f.message === 'sleeping 1300ms' && f.level === 'info')).toBe(true);
    expect(progress.some((f) => f.note === undefined && f.message === undefined)).toBe(true);
    expect(frames.at(-1)!.op).toBe('call_tool_res');
  });

  it('leaves no timer behind once its calls have ended (heartbeat, deadline)', async () => {
    // The daemon runs in this process: a per-call timer left running would show here, one per call.
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const calls = 30;
    c.send({ op: 'call_tool', request_id: 'tm-warm', name: 'test_echo', arguments: { text: 'warm' } });
    await c.result('tm-warm');
    const before = timers();
    for (let i = 0; i < calls; i++) {
      c.send({ op: 'call_tool', request_id: `tm-${i}`, name: 'test_echo', arguments: { text: `t${i}` } });
      await c.result(`tm-${i}`);
    }
    expect(timers()).toBeLessThan(before + calls / 3);
  });

  it('replays a finished call by (session, request_id) without running it again', async () => {
    const before = daemon.probe.runs.get('test_echo') ?? 0;
    const results = rawResults(c);
    c.send({ op: 'call_tool', request_id: 'rp', name: 'test_echo', arguments: { text: 'replay-me \u2028 "q"' } });
    const first = (await c.callFrames('rp')).at(-1);
    c.send({ op: 'call_tool', request_id: 'rp', name: 'test_echo', arguments: { text: 'replay-me \u2028 "q"' } });
    const again = await c.callFrames('rp');
    expect(again).toEqual([first]);
    expect(daemon.probe.runs.get('test_echo')).toBe(before + 1);
    // The replay is the very bytes the first answer was, not an equivalent JSON.
    expect(results).toHaveLength(2);
    expect(results[1]).toBe(results[0]);
  });

  it('replays a result served from the cache as the bytes it was first sent as', async () => {
    const results = rawResults(c);
    c.send({ op: 'call_tool', request_id: 'hit-a', name: 'test_echo', arguments: { text: 'bytes' } });
    await c.result('hit-a');
    c.send({ op: 'call_tool', request_id: 'hit-b', name: 'test_echo', arguments: { text: 'bytes' } });
    expect(await c.result('hit-b')).toMatchObject({ from_cache: true });
    c.send({ op: 'call_tool', request_id: 'hit-b', name: 'test_echo', arguments: { text: 'bytes' } });
    await c.result('hit-b');
    expect(results).toHaveLength(3);
    expect(results[1]).toContain('"from_cache":true');
    expect(results[2]).toBe(results[1]);
  });

  it('scopes replay to the session', async () => {
    c.send({ op: 'call_tool', request_id: 'scoped', name: 'test_echo', arguments: { text: 'mine', delay_ms: 1 } });
    await c.result('scoped');
    const other = await TestClient.ready(daemon.url, { session_id: 'someone-else' });
    other.send({ op: 'call_tool', request_id: 'scoped', name: 'test_fail', arguments: { message: 'theirs' } });
    const res = await other.result('scoped');
    expect(res.error).toMatchObject({ code: 'EXEC_ERROR', message: 'theirs' });
    other.close();
  });

  it('does not store failures: a retry with the same id runs again', async () => {
    c.send({ op: 'call_tool', request_id: 'f1', name: 'test_fail', arguments: { message: 'first' } });
    expect((await c.result('f1')).error).toEqual({ code: 'EXEC_ERROR', message: 'first' });
    c.send({ op: 'call_tool', request_id: 'f1', name: 'test_fail', arguments: { message: 'second' } });
    expect((await c.result('f1')).error).toEqual({ code: 'EXEC_ERROR', message: 'second' });
  });

  it('serves an identical finished call from the result cache', async () => {
    const before = daemon.probe.runs.get('test_echo') ?? 0;
    c.send({ op: 'call_tool', request_id: 'c1', name: 'test_echo', arguments: { text: 'cache me' } });
    const first = await c.result('c1');
    c.send({ op: 'call_tool', request_id: 'c2', name: 'test_echo', arguments: { text: 'cache me' } });
    const frames = await c.callFrames('c2');
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ request_id: 'c2', outputs: first.outputs, from_cache: true });
    expect(daemon.probe.runs.get('test_echo')).toBe(before + 1);
  });

  it('joins an identical in-flight call of the same session and gives the joiner the same outputs', async () => {
    const before = daemon.probe.runs.get('test_echo') ?? 0;
    const args = { text: 'coalesce', delay_ms: 300 };
    // Another connection of the same session (sessions share nothing by default: sessions.e2e-spec.ts).
    const other = await TestClient.ready(daemon.url, { session_id: session });
    c.send({ op: 'call_tool', request_id: 'orig', name: 'test_echo', arguments: args });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'orig');
    other.send({ op: 'call_tool', request_id: 'join', name: 'test_echo', arguments: args });
    const joinFrames = await other.callFrames('join');
    const origRes = await c.result('orig');
    expect(joinFrames[0]).toEqual({
      op: 'call_tool_ack',
      request_id: 'join',
      accepted: true,
      timeout: 120,
      name: 'test_echo',
      joined: 'orig',
    });
    const joinRes = joinFrames.at(-1)!;
    expect(joinRes.outputs).toEqual(origRes.outputs);
    expect(joinFrames.filter((f) => f.op === 'progress' && f.message)).toEqual([]);
    expect(daemon.probe.runs.get('test_echo')).toBe(before + 1);
    other.close();
  });

  it('cancel ends the call with CANCELLED and aborts the tool', async () => {
    c.send({ op: 'call_tool', request_id: 'cx', name: 'test_gate', arguments: { gate: 'never-cx' } });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === 'cx');
    c.send({ op: 'cancel', request_id: 'cx' });
    const res = await c.result('cx');
    expect(res.error).toMatchObject({ code: 'CANCELLED' });
    await waitFor(() => daemon.probe.aborted.includes('cx'));
    c.send({ op: 'cancel', request_id: 'cx' });
    expect(await c.next((f) => f.op === 'error')).toEqual({ op: 'error', message: 'unknown_request: cx' });
  });

  it('a cancel sent right behind its call reaches it while the call is still being planned', async () => {
    // Each pair arrives together: the cancel is handled while its call is
    // planned (planning is asynchronous), so the call must already be known.
    await expectCancelsBehindCallsLand(c);
  });

  it('a joiner keeps the run alive when the originator cancels', async () => {
    const other = await TestClient.ready(daemon.url, { session_id: session });
    c.send({ op: 'call_tool', request_id: 'o', name: 'test_echo', arguments: { text: 'shared', delay_ms: 400 } });
    await c.next((f) => f.op === 'call_tool_ack');
    other.send({ op: 'call_tool', request_id: 'j', name: 'test_echo', arguments: { text: 'shared', delay_ms: 400 } });
    await other.next((f) => f.op === 'call_tool_ack');
    c.send({ op: 'cancel', request_id: 'o' });
    expect((await c.result('o')).error).toMatchObject({ code: 'CANCELLED' });
    expect(toolOutput(await other.result('j')).content).toBe('shared');
    other.close();
  });

  it('times out at the call deadline even when the tool ignores its signal', async () => {
    const started = Date.now();
    c.send({
      op: 'call_tool',
      request_id: 't1',
      name: 'test_gate',
      arguments: { gate: 'never-t1', ignore_abort: true, timeout_secs: 1 },
    });
    const frames = await c.callFrames('t1', 4000);
    expect(frames.find((f) => f.op === 'call_tool_ack')).toMatchObject({ timeout: 1 });
    expect(frames.at(-1)!.error).toEqual({ code: 'TIMEOUT', message: 'call_tool exceeded 1s' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('disconnect cancels the caller’s running work', async () => {
    const d = await TestClient.ready(daemon.url);
    d.send({ op: 'call_tool', request_id: 'dc', name: 'test_gate', arguments: { gate: 'never-dc' } });
    await d.next((f) => f.op === 'call_tool_ack');
    d.close();
    await waitFor(() => daemon.probe.aborted.includes('dc'));
  });

  it('runs 50 concurrent calls on one connection, each answered with its own request_id', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
    const started = Date.now();
    for (const id of ids)
      c.send({ op: 'call_tool', request_id: id, name: 'test_echo', arguments: { text: id, delay_ms: 300 } });
    const results = await Promise.all(ids.map((id) => c.result(id, 10000)));
    // Served one by one this would take 50 × 300 ms.
    expect(Date.now() - started).toBeLessThan(5000);
    results.forEach((res, i) => {
      expect(res.request_id).toBe(ids[i]);
      expect(toolOutput(res).content).toBe(ids[i]);
    });
  });

  it('answers a call without request_id with a server-issued id on every frame', async () => {
    c.send({ op: 'call_tool', name: 'test_echo', arguments: { text: 'anon', delay_ms: 1 } });
    const accepted = await c.next();
    const id = accepted.request_id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const rest = await c.callFrames(id);
    expect(rest.map((f) => f.op).filter((op) => op !== 'progress')).toEqual(['call_tool_ack', 'call_tool_res']);
  });

  it('answers health with the snapshot and the legacy keys', async () => {
    c.send({ op: 'health' });
    const res = await c.next();
    expect(res).toMatchObject({ op: 'health_res', ok: true });
    const health = res.health as Record<string, unknown>;
    // Every key of the reply is checked in health.e2e-spec.ts; here, the values this daemon's config sets.
    c.send({ op: 'list_tools', request_id: 'count' });
    const listed = await c.next((f) => f.op === 'list_tools_res');
    expect(health.tool_count).toBe((listed.tools as unknown[]).length);
    expect(health.global_capacity).toBe(64);
    expect(health.concurrency).toMatchObject({ capacity: { global: 64, session: 64, GLM: 2, KIMI: 3 } });
    expect(health.gateway).toMatchObject({ status: 'up' });
  });

  it('serves /health and /health/live over HTTP on the same port', async () => {
    const health = await fetch(`${daemon.httpUrl}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; details: { gateway: Record<string, unknown> } };
    expect(body.status).toBe('ok');
    expect(Object.keys(body.details.gateway).sort()).toEqual(['connections', 'in_flight_calls', 'sessions', 'status']);
    const live = await fetch(`${daemon.httpUrl}/health/live`);
    expect(live.status).toBe(200);
  });
});

describe('compat and coalescing switches', () => {
  it('omits text when EXAI_WS_COMPAT_TEXT=false and never coalesces listed tools', async () => {
    const daemon = await startTestDaemon({
      EXAI_WS_COMPAT_TEXT: 'false',
      EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'test_echo',
    });
    try {
      const c = await TestClient.ready(daemon.url);
      const args = { text: 'x', delay_ms: 200 };
      c.send({ op: 'call_tool', request_id: 'a', name: 'test_echo', arguments: args });
      c.send({ op: 'call_tool', request_id: 'b', name: 'test_echo', arguments: args });
      const [a, b] = await Promise.all([c.callFrames('a'), c.callFrames('b')]);
      for (const frames of [a, b]) {
        expect(frames.map((f: Frame) => f.op).filter((op) => op !== 'progress')).toEqual([
          'call_tool_ack',
          'call_tool_res',
        ]);
        expect(frames.at(-1)).not.toHaveProperty('text');
        expect(frames.at(-1)).not.toHaveProperty('from_cache');
      }
      expect(daemon.probe.runs.get('test_echo')).toBe(2);
      c.close();
    } finally {
      await daemon.close();
    }
  });
});
