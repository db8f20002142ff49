import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { simulatorEnv, startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient, toolOutput } from './support/ws-client';
import { waitFor } from './support/wait';

const finalStep = (step: string) => ({
  step,
  step_number: 1,
  total_steps: 1,
  next_step_required: false,
  findings: 'the evidence so far',
  issues_found: [{ severity: 'high', description: 'a real issue' }],
});

describe('workflow permits: the expert call is admitted like any call, local steps take no permit', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let daemon: TestDaemon;
  let root: string;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'exai-wfp-')));
    await sim.start(0, '127.0.0.1');
    daemon = await startTestDaemon({
      ...simulatorEnv(sim),
      EXAI_FILE_ROOTS: root,
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '2',
      EXAI_WS_KIMI_MAX_INFLIGHT: '1',
      EXAI_WS_GLM_MAX_INFLIGHT: '2',
      EXAI_WS_SESSION_MAX_INFLIGHT: '2',
      EXAI_WS_QUEUE_TIMEOUT_SECS: '60',
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await daemon.close();
    await sim.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function session(id: string): Promise<TestClient> {
    const c = await TestClient.ready(daemon.url, { session_id: id });
    clients.push(c);
    return c;
  }

  it('queues the expert behind a full KIMI limit, runs a local step while every permit is taken, then admits the expert', async () => {
    const [a, b, c, d] = await Promise.all(['wf-a', 'wf-b', 'wf-c', 'wf-d'].map(session));
    // A: an expert call that holds the only KIMI permit (and one of two global ones).
    a.send({
      op: 'call_tool',
      request_id: 'A',
      name: 'debug',
      arguments: finalStep('first expert [[sim:stall]]'),
    });
    await waitFor(() => sim.openRequests === 1, 10_000, 'the first expert call reaching the simulator');

    // D: a second expert call queues on KIMI, with progress frames saying so.
    d.send({ op: 'call_tool', request_id: 'D', name: 'debug', arguments: finalStep('second expert') });
    const queued = await d.next((f) => f.request_id === 'D' && f.note === 'queued', 10_000);
    expect(queued.waiting_for).toBe('KIMI');

    // B: a GLM chat takes the last global permit.
    b.send({ op: 'call_tool', request_id: 'B', name: 'chat', arguments: { prompt: 'hold [[sim:stall]]' } });
    await waitFor(() => sim.openRequests === 2, 10_000, 'the chat call reaching the simulator');

    // C: a local step needs no permit, so it answers although every global permit is taken.
    c.send({
      op: 'call_tool',
      request_id: 'C',
      name: 'debug',
      arguments: { ...finalStep('local step'), next_step_required: true, total_steps: 2 },
    });
    const local = JSON.parse(toolOutput(await c.result('C', 10_000)).content) as Record<string, unknown>;
    expect(local.status).toBe('pause_for_investigation');
    expect(d.frames.some((f) => f.request_id === 'D' && f.op === 'call_tool_res')).toBe(false);

    // Ending A frees KIMI: D is admitted and its expert call completes.
    a.send({ op: 'cancel', request_id: 'A' });
    expect(((await a.result('A', 10_000)).error as { code: string }).code).toBe('CANCELLED');
    const second = JSON.parse(toolOutput(await d.result('D', 20_000)).content) as Record<string, unknown>;
    expect(second.status).toBe('calling_expert_analysis');
    b.send({ op: 'cancel', request_id: 'B' });
    await b.result('B', 10_000);
  });
});
