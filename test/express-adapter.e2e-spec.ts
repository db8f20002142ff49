import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { ExaiExpressAdapter } from '../src/http/express-http.adapter';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';

describe('the HTTP server under Express', () => {
  let daemon: TestDaemon | undefined;
  afterEach(async () => {
    await daemon?.close();
    daemon = undefined;
  });

  it("makes each request and response with Express's prototypes already set, so Express's app.handle changes none", async () => {
    daemon = await startTestDaemon();
    const server = daemon.app.getHttpServer() as Server;
    const express = daemon.app.getHttpAdapter().getInstance() as { request: object; response: object };
    const seen: Array<{ url?: string; request: boolean; response: boolean }> = [];
    // Runs before Express's own listener, which would set the prototypes itself.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      seen.push({
        url: req.url,
        request: Object.getPrototypeOf(req) === express.request,
        response: Object.getPrototypeOf(res) === express.response,
      });
    });
    const models = await fetch(`${daemon.httpUrl}/v1/models`);
    expect(models.status).toBe(200);
    expect(((await models.json()) as { object: string }).object).toBe('list');
    // Express's response methods still answer: a 404 through the exception filter, a JSON body through the route.
    const missing = await fetch(`${daemon.httpUrl}/v1/models/no-such-model`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    expect(seen).toEqual([
      { url: '/v1/models', request: true, response: true },
      { url: '/v1/models/no-such-model', request: true, response: true },
    ]);
    // The WebSocket upgrade goes through the same server and still works.
    const client = await TestClient.ready(daemon.url);
    client.ws.close();
  });

  it("keeps Nest's own server for the options it does not handle itself (HTTPS)", () => {
    const adapter = new ExaiExpressAdapter();
    adapter.initHttpServer({ httpsOptions: {} });
    expect(adapter.getHttpServer()).toBeInstanceOf(HttpsServer);
  });
});
