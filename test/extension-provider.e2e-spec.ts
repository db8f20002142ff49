import { startTestDaemon, TestDaemon } from './support/daemon';
import {
  TEST_PROVIDER_ID,
  TEST_PROVIDER_MODEL,
  TestLlmProvider,
  TestProviderModule,
} from './support/test-provider.module';
import { waitFor } from './support/wait';
import { Frame, TestClient, toolOutput } from './support/ws-client';

const LIMIT_VAR = `EXAI_WS_${TEST_PROVIDER_ID}_MAX_INFLIGHT`;

function chatOn(requestId: string): Record<string, unknown> {
  return {
    op: 'call_tool',
    request_id: requestId,
    name: 'chat',
    arguments: { prompt: `hello from ${requestId}`, model: TEST_PROVIDER_MODEL },
  };
}

/** The first frame of a call that says whether it was admitted, queued or refused. */
function admissionOutcome(client: TestClient, requestId: string): Promise<Frame> {
  return client.next(
    (f) => f.request_id === requestId && (f.op === 'call_tool_ack' || f.op === 'call_tool_res' || f.note === 'queued'),
    20_000,
  );
}

describe(`an extension provider's own limit (${LIMIT_VAR})`, () => {
  let daemon: TestDaemon | undefined;
  const clients: TestClient[] = [];

  async function start(
    env: Record<string, string>,
  ): Promise<{ provider: TestLlmProvider; a: TestClient; b: TestClient }> {
    // The global limit is larger, so only the provider's own limit can make a call wait.
    daemon = await startTestDaemon(
      { EXAI_WS_GLOBAL_MAX_INFLIGHT: '4', [LIMIT_VAR]: '1', ...env },
      { extensions: [TestProviderModule] },
    );
    // Two sessions, so only the provider limit (1) can be the one that is full.
    const a = await TestClient.ready(daemon.url, { session_id: 'ext-a' });
    const b = await TestClient.ready(daemon.url, { session_id: 'ext-b' });
    clients.push(a, b);
    return { provider: daemon.app.get(TestLlmProvider), a, b };
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await daemon?.close();
    daemon = undefined;
  });

  it('is applied: a second call waits for that provider, and /health shows its capacity', async () => {
    const { provider, a, b } = await start({ EXAI_WS_QUEUE_TIMEOUT_SECS: '3600' });

    a.send(chatOn('r1'));
    expect(await admissionOutcome(a, 'r1')).toMatchObject({ op: 'call_tool_ack' });
    await waitFor(() => provider.waiting.length === 1, 10_000, 'r1 reaching the provider');

    b.send(chatOn('r2'));
    expect(await admissionOutcome(b, 'r2')).toMatchObject({
      op: 'progress',
      note: 'queued',
      waiting_for: TEST_PROVIDER_ID,
      position: 1,
    });

    provider.releaseAll();
    expect(toolOutput(await a.result('r1', 20_000)).metadata).toMatchObject({ provider: TEST_PROVIDER_ID });
    expect(await admissionOutcome(b, 'r2')).toMatchObject({ op: 'call_tool_ack' });
    await waitFor(() => provider.waiting.length === 1, 10_000, 'r2 reaching the provider');
    provider.releaseAll();
    expect(toolOutput(await b.result('r2', 20_000)).content).toBe(`answered by ${TEST_PROVIDER_ID}`);

    const health = (await (await fetch(`${daemon!.httpUrl}/health`)).json()) as {
      details: { concurrency: { capacity: Record<string, number> } };
    };
    expect(health.details.concurrency.capacity[TEST_PROVIDER_ID]).toBe(1);
  });

  it('refuses a call over it with OVER_CAPACITY naming the provider when the queue timeout is 0', async () => {
    const { provider, a, b } = await start({ EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    a.send(chatOn('r1'));
    expect(await admissionOutcome(a, 'r1')).toMatchObject({ op: 'call_tool_ack' });

    b.send(chatOn('r2'));
    const refused = await admissionOutcome(b, 'r2');
    expect(refused).toMatchObject({ op: 'call_tool_res', error: { code: 'OVER_CAPACITY', limit: TEST_PROVIDER_ID } });
    expect((refused.error as { retry_after: number }).retry_after).toBeGreaterThanOrEqual(1);

    await waitFor(() => provider.waiting.length === 1, 10_000, 'r1 reaching the provider');
    provider.releaseAll();
    expect((await a.result('r1', 20_000)).error).toBeUndefined();
  });

  it('without its own limit shares the global one, and /health and /metrics show its limit and in-flight calls', async () => {
    daemon = await startTestDaemon({ EXAI_WS_GLOBAL_MAX_INFLIGHT: '3' }, { extensions: [TestProviderModule] });
    const provider = daemon.app.get(TestLlmProvider);
    const a = await TestClient.ready(daemon.url, { session_id: 'ext-a' });
    clients.push(a);
    a.send(chatOn('r1'));
    expect(await admissionOutcome(a, 'r1')).toMatchObject({ op: 'call_tool_ack' });
    await waitFor(() => provider.waiting.length === 1, 10_000, 'r1 reaching the provider');

    const health = (await (await fetch(`${daemon.httpUrl}/health`)).json()) as {
      details: { concurrency: { capacity: Record<string, number>; inFlight: Record<string, number> } };
    };
    expect(health.details.concurrency.capacity).toMatchObject({ global: 3, [TEST_PROVIDER_ID]: 3 });
    expect(health.details.concurrency.inFlight).toMatchObject({ global: 1, [TEST_PROVIDER_ID]: 1 });
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`exai_inflight\\{limit="${TEST_PROVIDER_ID}"\\} 1\\n`));
    expect(metrics).toMatch(new RegExp(`exai_capacity\\{limit="${TEST_PROVIDER_ID}"\\} 3\\n`));

    provider.releaseAll();
    expect((await a.result('r1', 20_000)).error).toBeUndefined();
  });
});
