import { createServer, IncomingMessage, request as httpRequest, Server } from 'node:http';
import { connect, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient, toolOutput } from './support/ws-client';

/**
 * Provider calls through an outbound proxy (HTTP_PROXY), as corporate
 * networks need. The proxy is a real forward proxy on loopback; the simulator
 * listens on 127.0.0.2, a loopback address that is not in the always-direct
 * list, so its traffic must take the proxy.
 */
describe('provider calls through HTTP_PROXY', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  const seen: string[] = [];
  let proxy: Server;
  let proxyUrl: string;
  const daemons: TestDaemon[] = [];

  beforeAll(async () => {
    await sim.start(0, '127.0.0.2');
    proxy = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const upstream = httpRequest(req.url!, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    // undici tunnels through CONNECT (as it must for https://), the way corporate proxies expect.
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      seen.push(`${req.method} ${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const d of daemons) await d.close();
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
    await sim.stop();
  });

  async function chatVia(env: Record<string, string>): Promise<Record<string, unknown>> {
    const d = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'real',
      GLM_API_KEY: 'sim-glm-key',
      HTTP_PROXY: proxyUrl,
      ...env,
    });
    daemons.push(d);
    const c = await TestClient.ready(d.url);
    try {
      c.send({ op: 'call_tool', request_id: 'p1', name: 'chat', arguments: { prompt: 'via proxy?' } });
      return toolOutput(await c.result('p1', 10_000));
    } finally {
      c.close();
    }
  }

  it('sends provider requests through the proxy', async () => {
    const out = await chatVia({ GLM_API_URL: sim.glmBaseUrl });
    expect(out.status).toBe('success');
    expect(seen).toEqual([`CONNECT ${new URL(sim.glmBaseUrl).host}`]);
  });

  it('never proxies loopback (127.0.0.1, localhost), so the embedded simulator stays direct', async () => {
    seen.length = 0;
    const direct = new ProviderSimulator({ speed: 0 });
    await direct.start(0, '127.0.0.1');
    try {
      const out = await chatVia({ GLM_API_URL: direct.glmBaseUrl });
      expect(out.status).toBe('success');
      expect(seen).toEqual([]);
      expect(direct.requests.length).toBeGreaterThan(0);
    } finally {
      await direct.stop();
    }
  });
});
