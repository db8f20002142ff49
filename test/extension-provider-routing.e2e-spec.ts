import { ProviderSimulator } from '../src/simulator/simulator.server';
import { simulatorEnv, startTestDaemon, TestDaemon } from './support/daemon';
import {
  TEST_PROVIDER_ID,
  TEST_PROVIDER_MODEL,
  TestLlmProvider,
  TestProviderModule,
} from './support/test-provider.module';
import { waitFor } from './support/wait';
import { TestClient, toolOutput } from './support/ws-client';

/**
 * An extension provider plugs into `model:"auto"` like ours: routing names
 * models, and the provider registry says who serves them, so a routed model
 * served by the extension goes to it even when GLM itself is not configured.
 */
describe('model:"auto" and an extension provider', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let daemon: TestDaemon | undefined;
  let client: TestClient | undefined;

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());
  afterEach(async () => {
    client?.close();
    await daemon?.close();
    daemon = client = undefined;
  });

  it('routes a tier to the extension provider serving its configured model', async () => {
    daemon = await startTestDaemon(
      { ...simulatorEnv(sim), GLM_API_KEY: '', ZHIPUAI_API_KEY: '', GLM_SPEED_MODEL: TEST_PROVIDER_MODEL },
      { extensions: [TestProviderModule] },
    );
    const provider = daemon.app.get(TestLlmProvider);
    client = await TestClient.ready(daemon.url);
    client.send({ op: 'call_tool', request_id: 'auto', name: 'chat', arguments: { prompt: 'routed' } });
    await waitFor(() => provider.waiting.length === 1, 10_000, 'the call reaching the extension provider');
    provider.releaseAll();
    const out = toolOutput(await client.result('auto', 20_000));
    expect(out.content).toBe(`answered by ${TEST_PROVIDER_ID}`);
    expect(out.metadata).toMatchObject({ provider: TEST_PROVIDER_ID, model: TEST_PROVIDER_MODEL });
    // Nothing went to the other tier's provider.
    expect(sim.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(0);
  });
});
