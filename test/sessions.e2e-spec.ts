import { ProviderSimulator } from '../src/simulator/simulator.server';
import { simulatorEnv, startTestDaemon, TestDaemon } from './support/daemon';
import { Frame, TestClient, toolOutput } from './support/ws-client';

// Nothing one session does reaches another unless configured: conversation
// threads, the result cache, coalescing and request-id replay.

const sim = new ProviderSimulator({ speed: 0 });
beforeAll(() => sim.start(0, '127.0.0.1'));
afterAll(() => sim.stop());

// A function: the simulator's URLs exist only once it listens.
const WIDE = (): Record<string, string> => ({
  ...simulatorEnv(sim),
  EXAI_WS_GLOBAL_MAX_INFLIGHT: '64',
  EXAI_WS_SESSION_MAX_INFLIGHT: '64',
  EXAI_WS_GLM_MAX_INFLIGHT: '64',
  EXAI_WS_KIMI_MAX_INFLIGHT: '64',
});

let seq = 0;
function rid(prefix: string): string {
  return `${prefix}-${++seq}`;
}

async function call(c: TestClient, name: string, args: Record<string, unknown>, requestId = rid(name)): Promise<Frame> {
  c.send({ op: 'call_tool', request_id: requestId, name, arguments: args });
  return c.result(requestId, 15_000);
}

function usage(res: Frame): { prompt_tokens: number } {
  return toolOutput(res).metadata.usage as { prompt_tokens: number };
}

function continuation(res: Frame): string {
  return toolOutput(res).metadata.continuation_id as string;
}

async function metric(daemon: TestDaemon, tool: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`exai_calls_total{tool="${tool}",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('sessions share nothing by default', () => {
  let daemon: TestDaemon;
  let a: TestClient;
  let b: TestClient;
  beforeAll(async () => {
    daemon = await startTestDaemon(WIDE());
  });
  afterAll(() => daemon.close());
  beforeEach(async () => {
    a = await TestClient.ready(daemon.url, { session_id: `alice-${++seq}` });
    b = await TestClient.ready(daemon.url, { session_id: `bob-${++seq}` });
  });
  afterEach(() => {
    a.close();
    b.close();
  });

  it("never serves A's thread to B: the issue's figure (B's follow-up prompt tokens vs a fresh thread)", async () => {
    const opening = { prompt: 'Summarise our design review, please.' };
    const first = await call(a, 'chat', opening);
    const thread = continuation(first);
    // A's private turn, which B must never see.
    await call(a, 'chat', { prompt: `Secret plan: ${'launch codes '.repeat(400)}`, continuation_id: thread });

    const bFirst = await call(b, 'chat', opening);
    expect(bFirst.error).toBeUndefined();
    expect(bFirst.from_cache).toBeUndefined();
    expect(continuation(bFirst)).not.toBe(thread);

    const fresh = await call(b, 'chat', { prompt: 'And next?' });
    const followUp = await call(b, 'chat', { prompt: 'And next?', continuation_id: thread });
    expect(followUp.error).toMatchObject({ code: 'INVALID_ARGUMENTS', details: { continuation_id: thread } });
    expect((followUp.error as { message: string }).message).toMatch(/^unknown continuation_id/);
    // B's own thread continues with B's history only.
    const own = await call(b, 'chat', { prompt: 'And next?', continuation_id: continuation(bFirst) });
    process.stdout.write(
      `[sessions figure] fresh thread prompt_tokens=${usage(fresh).prompt_tokens}; ` +
        `B continuing A's thread: ${JSON.stringify(followUp.error)}; ` +
        `B continuing its own thread prompt_tokens=${usage(own).prompt_tokens}\n`,
    );
    expect(usage(own).prompt_tokens).toBeLessThan(usage(fresh).prompt_tokens + 100);
  });

  it('answers an id that was never issued exactly like another session’s id', async () => {
    const res = await call(b, 'thinkdeep', { prompt: 'go on', continuation_id: 'not-a-thread' });
    expect(res.error).toMatchObject({ code: 'INVALID_ARGUMENTS', details: { continuation_id: 'not-a-thread' } });
    const mine = continuation(await call(a, 'thinkdeep', { prompt: 'think' }));
    const theirs = await call(b, 'thinkdeep', { prompt: 'go on', continuation_id: mine, model: 'kimi-k2-thinking' });
    expect((theirs.error as { message: string }).message).toBe(
      (res.error as { message: string }).message.replace('not-a-thread', mine),
    );
  });

  it('runs every turn of a thread and advances it: the same prompt three times is never from cache', async () => {
    const thread = continuation(await call(a, 'chat', { prompt: 'Start.' }));
    const turns: Frame[] = [];
    for (let i = 0; i < 3; i++) turns.push(await call(a, 'chat', { prompt: 'Same again?', continuation_id: thread }));
    expect(turns.map((t) => t.from_cache === true)).toEqual([false, false, false]);
    const tokens = turns.map((t) => usage(t).prompt_tokens);
    expect(tokens[1]).toBeGreaterThan(tokens[0]);
    expect(tokens[2]).toBeGreaterThan(tokens[1]);
    expect(turns.map(continuation)).toEqual([thread, thread, thread]);
  });

  it('never serves a call with a temperature above 0 from cache; 0 or none is cached within the session', async () => {
    const warm = { prompt: 'Name a colour.', temperature: 0.7 };
    const r1 = await call(a, 'chat', warm);
    const r2 = await call(a, 'chat', warm);
    expect([r1.from_cache, r2.from_cache]).toEqual([undefined, undefined]);
    expect(continuation(r2)).not.toBe(continuation(r1));
    const cold = { prompt: 'Name a colour.', temperature: 0 };
    await call(a, 'chat', cold);
    expect((await call(a, 'chat', cold)).from_cache).toBe(true);
  });

  it('keeps the result cache per session: B runs the call again; A gets A’s answer from cache, counted as cached', async () => {
    const before = daemon.probe.runs.get('test_echo') ?? 0;
    const cachedBefore = await metric(daemon, 'test_echo', 'cached');
    const args = { text: `per-session ${seq}` };
    const fromA = await call(a, 'test_echo', args);
    const fromB = await call(b, 'test_echo', args);
    const againA = await call(a, 'test_echo', args);
    expect(fromB.from_cache).toBeUndefined();
    expect(toolOutput(fromB).metadata.request_id).not.toBe(toolOutput(fromA).metadata.request_id);
    expect(againA).toMatchObject({ from_cache: true, outputs: fromA.outputs });
    expect(daemon.probe.runs.get('test_echo')).toBe(before + 2);
    expect(await metric(daemon, 'test_echo', 'cached')).toBe(cachedBefore + 1);
  });

  it('does not join an identical running call of another session', async () => {
    const before = daemon.probe.runs.get('test_echo') ?? 0;
    const args = { text: `coalesce ${seq}`, delay_ms: 300 };
    a.send({ op: 'call_tool', request_id: 'ra', name: 'test_echo', arguments: args });
    await a.next((f) => f.op === 'call_tool_ack' && f.request_id === 'ra');
    b.send({ op: 'call_tool', request_id: 'rb', name: 'test_echo', arguments: args });
    const bFrames = await b.callFrames('rb');
    await a.result('ra');
    expect(bFrames.find((f) => f.op === 'call_tool_ack')).not.toHaveProperty('joined');
    expect(daemon.probe.runs.get('test_echo')).toBe(before + 2);
  });

  it('replays an id only for the same call: listmodels under a used id is answered by listmodels', async () => {
    const chat = await call(a, 'chat', { prompt: 'Hello there.' }, 'reused-1');
    const models = await call(a, 'listmodels', {}, 'reused-1');
    expect(toolOutput(models).metadata.tool).toBe('listmodels');
    expect(models.outputs).not.toEqual(chat.outputs);
    // The id now names the listmodels call: a retry of it replays it.
    const retry = await call(a, 'listmodels', {}, 'reused-1');
    expect(retry).toEqual(models);
  });

  it('runs a finished id reused with other arguments as a new call', async () => {
    const before = daemon.probe.runs.get('test_echo') ?? 0;
    await call(a, 'test_echo', { text: 'one' }, 'reused-2');
    const second = await call(a, 'test_echo', { text: 'two' }, 'reused-2');
    expect(toolOutput(second).content).toBe('two');
    expect(daemon.probe.runs.get('test_echo')).toBe(before + 2);
  });

  it('tells calls apart by their arguments whether they are short or long, and replays each only as itself', async () => {
    // Short calls are keyed by their JSON, long ones by its digest (CallPlanner).
    for (const [size, pad] of [
      ['short', ''],
      ['long', 'x'.repeat(400)],
    ]) {
      const id = `reused-${size}`;
      const before = daemon.probe.runs.get('test_echo') ?? 0;
      await call(a, 'test_echo', { text: `${pad}one` }, id);
      const second = await call(a, 'test_echo', { text: `${pad}two` }, id);
      expect(toolOutput(second).content).toBe(`${pad}two`);
      expect(await call(a, 'test_echo', { text: `${pad}two` }, id)).toEqual(second);
      expect(daemon.probe.runs.get('test_echo')).toBe(before + 2);
    }
  });

  it('refuses an id of a running call reused for another call, and the running call still ends normally', async () => {
    a.send({ op: 'call_tool', request_id: 'busy', name: 'test_echo', arguments: { text: 'first', delay_ms: 400 } });
    await a.next((f) => f.op === 'call_tool_ack' && f.request_id === 'busy');
    a.send({ op: 'call_tool', request_id: 'busy', name: 'test_echo', arguments: { text: 'second' } });
    const refused = await a.result('busy');
    expect(refused.error).toEqual({
      code: 'INVALID_ARGUMENTS',
      message:
        'request_id "busy" is in use by a running test_echo call with other arguments in this session; send this call with a new request_id',
      details: { request_id: 'busy', running_tool: 'test_echo' },
    });
    expect(toolOutput(await a.result('busy')).content).toBe('first');
  });
});

describe('EXAI_RESULT_CACHE_SCOPE', () => {
  it('global: an identical call of another session is served from cache and joins a running one', async () => {
    const daemon = await startTestDaemon({ ...WIDE(), EXAI_RESULT_CACHE_SCOPE: 'global' });
    const a = await TestClient.ready(daemon.url, { session_id: 'g-a' });
    const b = await TestClient.ready(daemon.url, { session_id: 'g-b' });
    try {
      const first = await call(a, 'test_echo', { text: 'shared' });
      expect(await call(b, 'test_echo', { text: 'shared' })).toMatchObject({
        from_cache: true,
        outputs: first.outputs,
      });
      a.send({ op: 'call_tool', request_id: 'ga', name: 'test_echo', arguments: { text: 'slow', delay_ms: 300 } });
      await a.next((f) => f.op === 'call_tool_ack' && f.request_id === 'ga');
      b.send({ op: 'call_tool', request_id: 'gb', name: 'test_echo', arguments: { text: 'slow', delay_ms: 300 } });
      expect(await b.next((f) => f.op === 'call_tool_ack' && f.request_id === 'gb')).toMatchObject({ joined: 'ga' });
      await Promise.all([a.result('ga'), b.result('gb')]);
      // Threads stay owned even when answers are shared.
      const chat = await call(a, 'chat', { prompt: 'shared question' });
      const hit = await call(b, 'chat', { prompt: 'shared question' });
      expect(hit.from_cache).toBe(true);
      const cont = await call(b, 'chat', { prompt: 'more', continuation_id: continuation(chat) });
      expect(cont.error).toMatchObject({ code: 'INVALID_ARGUMENTS' });
      expect(daemon.probe.runs.get('test_echo')).toBe(2);
    } finally {
      a.close();
      b.close();
      await daemon.close();
    }
  });

  it('off: nothing is served from cache or joined, not even within one session', async () => {
    const daemon = await startTestDaemon({ ...WIDE(), EXAI_RESULT_CACHE_SCOPE: 'off' });
    const a = await TestClient.ready(daemon.url, { session_id: 'o-a' });
    try {
      await call(a, 'test_echo', { text: 'x' });
      expect((await call(a, 'test_echo', { text: 'x' })).from_cache).toBeUndefined();
      const args = { text: 'y', delay_ms: 200 };
      a.send({ op: 'call_tool', request_id: 'o1', name: 'test_echo', arguments: args });
      a.send({ op: 'call_tool', request_id: 'o2', name: 'test_echo', arguments: args });
      const [f1, f2] = await Promise.all([a.callFrames('o1'), a.callFrames('o2')]);
      for (const frames of [f1, f2]) expect(frames.find((f) => f.op === 'call_tool_ack')).not.toHaveProperty('joined');
      expect(daemon.probe.runs.get('test_echo')).toBe(4);
      // Replay by request_id is not sharing: it still answers a retry.
      expect(await call(a, 'test_echo', { text: 'y', delay_ms: 200 }, 'o1')).toEqual(f1.at(-1));
    } finally {
      a.close();
      await daemon.close();
    }
  });

  it('refuses an unknown scope at boot', async () => {
    await expect(startTestDaemon({ EXAI_RESULT_CACHE_SCOPE: 'team' })).rejects.toThrow(
      /EXAI_RESULT_CACHE_SCOPE="team": EXAI_RESULT_CACHE_SCOPE must be one of the following values: session, global, off/,
    );
  });
});
