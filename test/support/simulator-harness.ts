import { ProviderSimulator } from '../../src/simulator/simulator.server';
import { startTestDaemon, TestDaemon } from './daemon';
import { simulatorEnv } from './simulator-env';
import { Frame, TestClient, toolOutput } from './ws-client';

/**
 * A real daemon whose providers are a real simulator, started once for the
 * describe block, with a fresh client and a reset simulator for every test.
 */
export function simulatorHarness(env: Record<string, string> = {}) {
  const h = {
    sim: new ProviderSimulator({ speed: 0 }),
    daemon: undefined as unknown as TestDaemon,
    client: undefined as unknown as TestClient,
    async call(name: string, args: Record<string, unknown>, timeoutMs = 8000): Promise<Frame> {
      const id = `r-${Math.random().toString(36).slice(2)}`;
      h.client.send({ op: 'call_tool', request_id: id, name, arguments: args });
      return h.client.result(id, timeoutMs);
    },
    /** The ToolOutput of a successful call; throws with the error otherwise. */
    ok(res: Frame) {
      if (res.error) throw new Error(`call failed: ${JSON.stringify(res.error)}`);
      return toolOutput(res);
    },
    errorOf: (res: Frame) => res.error as { code: string; message: string },
  };
  beforeAll(async () => {
    await h.sim.start(0, '127.0.0.1');
    h.daemon = await startTestDaemon({ ...simulatorEnv(h.sim), ...env });
  });
  beforeEach(async () => {
    h.sim.reset();
    h.client = await TestClient.ready(h.daemon.url);
  });
  afterEach(() => h.client.close());
  afterAll(async () => {
    await h.daemon.close();
    await h.sim.stop();
  });
  return h;
}
