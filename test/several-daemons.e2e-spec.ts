import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import type { RecordedRequest } from '../src/simulator/simulator.types';
import { DaemonProcess, startDaemonProcess } from './support/daemon-process';
import { TestRedis } from './support/redis';
import { simulatorEnv } from './support/simulator-env';
import { waitFor } from './support/wait';
import { Frame, TestClient, toolOutput } from './support/ws-client';

type Body = Record<string, unknown>;
interface Message {
  role: string;
  content: string;
}

/**
 * Two daemon processes on one Redis, as behind a load balancer: what a
 * session did on one is there on the other (issue 16).
 */
describe('several daemons share session state through Redis', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let redis: TestRedis;
  let dataDir: string;
  const daemons: Record<'a' | 'b', DaemonProcess | undefined> = { a: undefined, b: undefined };
  const clients: TestClient[] = [];
  let seq = 0;

  const env = () => ({
    ...simulatorEnv(sim),
    EXAI_WS_TOKEN: '',
    EXAI_CONCURRENCY_BACKEND: 'redis',
    REDIS_URL: redis.url,
    EXAI_FILE_ROOTS: 'none',
    LOG_FORMAT: 'json',
  });
  const start = async (name: 'a' | 'b') => (daemons[name] = await startDaemonProcess(env(), 30_000));
  const url = (name: 'a' | 'b') => daemons[name]!.url;
  const httpUrl = (name: 'a' | 'b') => url(name).replace(/^ws/, 'http').replace(/\/$/, '');

  async function client(on: 'a' | 'b', session: string): Promise<TestClient> {
    const c = await TestClient.ready(url(on), { session_id: session });
    clients.push(c);
    return c;
  }

  async function call(c: TestClient, name: string, args: Body, requestId = `r${++seq}`): Promise<Frame> {
    c.send({ op: 'call_tool', request_id: requestId, name, arguments: args });
    return c.result(requestId, 30_000);
  }

  function ok(res: Frame): { content: string; metadata: Body } {
    if (res.error) throw new Error(`call failed: ${JSON.stringify(res.error)}`);
    return toolOutput(res);
  }

  const chatRequests = (): RecordedRequest[] => sim.requests.filter((r) => r.path.endsWith('/chat/completions'));
  const messagesOf = (r: RecordedRequest) => (r.body as { messages: Message[] }).messages;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'exai-redis-'));
    redis = await TestRedis.start(undefined, dataDir);
    await sim.start(0, '127.0.0.1');
    await Promise.all([start('a'), start('b')]);
  }, 60_000);
  beforeEach(() => sim.reset());
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    for (const d of Object.values(daemons)) d?.child.kill('SIGKILL');
    await sim.stop();
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a chat thread started on daemon A continues on daemon B with its history', async () => {
    const onA = await client('a', 'agent-1');
    const first = ok(await call(onA, 'chat', { prompt: 'Remember the word PELICAN-42.' }));
    const thread = first.metadata.continuation_id as string;
    expect(thread).toMatch(/^[0-9a-f-]{36}$/);
    onA.close();

    // The agent reconnects and lands on the other daemon.
    const onB = await client('b', 'agent-1');
    const second = ok(await call(onB, 'chat', { prompt: 'Which word?', continuation_id: thread }));
    expect(second.metadata.continuation_id).toBe(thread);
    const sent = messagesOf(chatRequests().at(-1)!);
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent[0].content).toBe('Remember the word PELICAN-42.');
    expect(sent[1].content).toBe(first.content);
    expect(sent[2].content).toBe('Which word?');

    // And back on A: the turn B added is there too.
    const again = await client('a', 'agent-1');
    ok(await call(again, 'chat', { prompt: 'Once more?', continuation_id: thread }));
    expect(messagesOf(chatRequests().at(-1)!).map((m) => m.content)).toEqual([
      'Remember the word PELICAN-42.',
      first.content,
      'Which word?',
      second.content,
      'Once more?',
    ]);
  });

  it('a three-step workflow alternates between A and B and finishes with the full findings', async () => {
    const [onA, onB] = [await client('a', 'agent-wf'), await client('b', 'agent-wf')];
    const step = (n: number, findings: string, extra: Body = {}) => ({
      step: `step ${n} of the parser investigation`,
      step_number: n,
      total_steps: 3,
      next_step_required: n < 3,
      findings,
      confidence: n < 3 ? 'low' : 'high',
      ...extra,
    });
    const body = (res: Frame) => JSON.parse(ok(res).content) as Body;
    const s1 = body(await call(onA, 'debug', step(1, 'FINDING-ONE: parse() crashes on empty input')));
    expect(s1.status).toBe('pause_for_investigation');
    const id = s1.continuation_id as string;
    const s2 = body(
      await call(onB, 'debug', step(2, 'FINDING-TWO: no caller validates input', { continuation_id: id })),
    );
    expect(s2.status).toBe('pause_for_investigation');
    expect(chatRequests()).toHaveLength(0);
    const s3 = body(
      await call(onA, 'debug', step(3, 'FINDING-THREE: int() on unvalidated text', { continuation_id: id })),
    );
    expect(s3.status).toBe('calling_expert_analysis');
    expect(s3.continuation_id).toBe(id);
    expect(s3.complete_investigation).toMatchObject({ steps_taken: 3 });
    const prompt = messagesOf(chatRequests().at(-1)!).at(-1)!.content;
    for (const f of ['FINDING-ONE', 'FINDING-TWO', 'FINDING-THREE']) expect(prompt).toContain(f);
  });

  it('a replay of a finished request_id on B returns A’s stored result without running it again', async () => {
    const onA = await client('a', 'agent-replay');
    // temperature > 0: never served from the result cache, so only the replay can answer.
    const args = { prompt: 'a sampled answer', temperature: 0.7 };
    const original = await call(onA, 'chat', args, 'replay-1');
    ok(original);
    expect(chatRequests()).toHaveLength(1);
    onA.close();

    const onB = await client('b', 'agent-replay');
    const replayed = await call(onB, 'chat', args, 'replay-1');
    expect(replayed).toEqual(original);
    expect(chatRequests()).toHaveLength(1);

    // Replays belong to their session: another session's identical id runs as its own call.
    const other = await call(await client('b', 'someone-else'), 'chat', args, 'replay-1');
    expect(ok(other).metadata.continuation_id).not.toBe(ok(original).metadata.continuation_id);
    expect(chatRequests()).toHaveLength(2);
  });

  it('an identical call on B is answered from the result cache A filled', async () => {
    const args = { prompt: 'a deterministic question', model: 'glm-4.5-flash' };
    const first = ok(await call(await client('a', 'agent-cache'), 'chat', args));
    const second = await call(await client('b', 'agent-cache'), 'chat', args);
    expect(second.from_cache).toBe(true);
    expect(ok(second).content).toBe(first.content);
    expect(chatRequests()).toHaveLength(1);
  });

  it('a call still running on A is not joined from B: the same request_id on B runs again', async () => {
    const onA = await client('a', 'agent-running');
    const args = { prompt: 'slow [[sim:delay=1500]]', temperature: 0.3 };
    onA.send({ op: 'call_tool', request_id: 'running-1', name: 'chat', arguments: args });
    await onA.next((f) => f.op === 'call_tool_ack' && f.request_id === 'running-1', 10_000);
    const onB = await client('b', 'agent-running');
    const onBResult = await call(onB, 'chat', args, 'running-1');
    ok(onBResult);
    expect(onBResult.from_cache).toBeUndefined();
    ok(await onA.result('running-1', 30_000));
    expect(chatRequests()).toHaveLength(2);
  });

  it('session isolation holds across daemons: another session cannot continue A’s thread on B', async () => {
    const alice = await client('a', 'alice');
    const thread = ok(await call(alice, 'chat', { prompt: 'ALICE-SECRET' })).metadata.continuation_id as string;
    const wf = JSON.parse(
      ok(
        await call(alice, 'debug', {
          step: 'alice investigates',
          step_number: 1,
          total_steps: 2,
          next_step_required: true,
          findings: 'ALICE-FINDINGS',
        }),
      ).content,
    ) as Body;
    const before = chatRequests().length;

    const mallory = await client('b', 'mallory');
    const stolen = await call(mallory, 'chat', { prompt: 'what did she say?', continuation_id: thread });
    expect(stolen.error).toMatchObject({
      code: 'INVALID_ARGUMENTS',
      message: expect.stringMatching(/^unknown continuation_id/),
    });
    const stolenWf = await call(mallory, 'debug', {
      step: 'take over',
      step_number: 2,
      total_steps: 2,
      next_step_required: false,
      findings: 'x',
      continuation_id: wf.continuation_id,
    });
    expect(stolenWf.error).toMatchObject({ code: 'INVALID_ARGUMENTS' });
    expect(chatRequests()).toHaveLength(before);
    // Appending under the stolen id did not happen either: Alice's thread is hers alone.
    ok(await call(await client('b', 'alice'), 'chat', { prompt: 'next', continuation_id: thread }));
    expect(messagesOf(chatRequests().at(-1)!).map((m) => m.content)).not.toContain('what did she say?');
  });

  it('kill -9 of A in the middle of a thread: B continues it', async () => {
    const onA = await client('a', 'agent-kill');
    const first = ok(await call(onA, 'chat', { prompt: 'turn one' }));
    const thread = first.metadata.continuation_id as string;
    // Turn two is running on A when A dies.
    onA.send({
      op: 'call_tool',
      request_id: 'in-flight',
      name: 'chat',
      arguments: { prompt: 'turn two [[sim:stall]]', continuation_id: thread },
    });
    await onA.next((f) => f.op === 'call_tool_ack' && f.request_id === 'in-flight', 10_000);
    daemons.a!.child.kill('SIGKILL');
    await onA.waitClose(10_000);

    const onB = await client('b', 'agent-kill');
    const retried = ok(await call(onB, 'chat', { prompt: 'turn two', continuation_id: thread }));
    expect(retried.metadata.continuation_id).toBe(thread);
    expect(messagesOf(chatRequests().at(-1)!).map((m) => m.content)).toEqual(['turn one', first.content, 'turn two']);
    await start('a');
  }, 60_000);

  it('Redis down in closed mode: calls needing shared state get a clear refusal and readiness fails; both recover when Redis is back', async () => {
    const onA = await client('a', 'agent-down');
    const thread = ok(await call(onA, 'chat', { prompt: 'before the outage' })).metadata.continuation_id as string;
    await redis.stop();
    await waitFor(async () => (await fetch(`${httpUrl('b')}/health/ready`)).status === 503, 15_000, 'B not ready');
    const ready = (await (await fetch(`${httpUrl('b')}/health/ready`)).json()) as Body;
    expect((ready.error as Record<string, Body>).state).toMatchObject({
      status: 'down',
      backend: 'redis',
      message: expect.stringMatching(/^Redis unreachable.*calls that need shared state are refused$/),
    });

    const onB = await client('b', 'agent-down');
    const before = chatRequests().length;
    for (const args of [{ prompt: 'continue', continuation_id: thread }, { prompt: 'a new conversation' }]) {
      const refused = await call(onB, 'chat', args);
      expect(refused.error).toEqual({
        code: 'OVER_CAPACITY',
        message: 'Shared conversation state unavailable (Redis unreachable); retry soon',
        limit: 'state',
        retry_after: 1,
      });
    }
    expect(chatRequests()).toHaveLength(before);

    await redis.launch();
    await waitFor(async () => (await fetch(`${httpUrl('b')}/health/ready`)).status === 200, 20_000, 'B ready');
    // Redis kept its data (append-only file): the thread goes on where it was.
    ok(await call(onB, 'chat', { prompt: 'after the outage', continuation_id: thread }));
    expect(messagesOf(chatRequests().at(-1)!).map((m) => m.content)[0]).toBe('before the outage');
  }, 90_000);
});
