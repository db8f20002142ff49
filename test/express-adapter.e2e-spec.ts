import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Server as HttpsServer } from 'node:https';
import { ExaiExpressAdapter } from '../src/http/express-http.adapter';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { waitFor, within } from './support/wait';
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

  describe('a stop with HTTP clients still connected', () => {
    const poll = 'GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const body = JSON.stringify({ model: 'glm-4.5-flash', messages: [{ role: 'user', content: 'hello' }] });
    const postHead = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;

    /**
     * A keep-alive connection with a request still arriving when the server
     * closes: Node ends only the connections idle at that moment, and this
     * one is not.
     */
    async function busyWhenTheStopBegins(): Promise<{ socket: Socket; answers: RawAnswers; stopped: Promise<void> }> {
      const running = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' });
      daemon = running;
      const server = running.app.getHttpServer() as Server;
      let received = 0;
      server.prependListener('request', () => received++);
      const socket = connect(Number(new URL(running.httpUrl).port), '127.0.0.1');
      const answers = new RawAnswers(socket);
      socket.write(poll);
      expect(await answers.next()).toMatch(/^HTTP\/1\.1 200 /);
      socket.write(postHead + body.slice(0, 10));
      await waitFor(() => received === 2, 10_000, 'the request to arrive');
      const stopped = running.close();
      daemon = undefined;
      await waitFor(() => !server.listening, 10_000, 'the server to stop listening');
      return { socket, answers, stopped };
    }

    it('closes the connection after each answer, so a client polling over keep-alive (an open status page) cannot hold it', async () => {
      const { socket, answers, stopped } = await busyWhenTheStopBegins();
      try {
        socket.write(body.slice(10));
        expect(await answers.next()).toMatch(/^HTTP\/1\.1 \d{3} /);
        // The page polls again over the same connection, as a browser does,
        // well inside the 5 s keep-alive timeout.
        socket.write(poll);
        const answer = await answers.next();
        // 503 from the health check once the stop has begun; any answer will do.
        expect(answer).toMatch(/^HTTP\/1\.1 \d{3} /);
        expect(answer).toMatch(/^connection: close$/im);
        await answers.closed();
        await within(stopped, 10_000, 'the stop');
      } finally {
        socket.destroy();
      }
    });

    it('destroys a connection whose request never finishes arriving, so the stop still ends', async () => {
      const { socket, answers, stopped } = await busyWhenTheStopBegins();
      try {
        await within(stopped, 10_000, 'the stop with a request stuck half-sent');
        await answers.closed();
      } finally {
        socket.destroy();
      }
    });
  });

  it("keeps Nest's own server for the options it does not handle itself (HTTPS)", () => {
    const adapter = new ExaiExpressAdapter();
    adapter.initHttpServer({ httpsOptions: {} });
    expect(adapter.getHttpServer()).toBeInstanceOf(HttpsServer);
  });
});

/** The answers on a raw HTTP/1.1 connection, one status-and-headers block per call to next(). */
class RawAnswers {
  private buffered = '';
  private readonly waiting: Array<() => void> = [];
  private gone = false;
  private closedByPeer = false;

  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffered += d;
      this.waiting.splice(0).forEach((wake) => wake());
    });
    socket.on('error', () => undefined);
    socket.on('end', () => (this.closedByPeer = true));
    socket.on('close', () => {
      this.gone = true;
      this.waiting.splice(0).forEach((wake) => wake());
    });
  }

  /** Resolves when the server has ended the connection. */
  async closed(): Promise<void> {
    await waitFor(() => this.closedByPeer || this.gone, 10_000, 'the server to end the connection');
  }

  async next(): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buffered.slice(0, end);
        const rest = this.buffered.slice(end + 4);
        const bodyEnd = /^transfer-encoding: *chunked/im.test(head)
          ? chunkedEnd(rest)
          : Number(/^content-length: *(\d+)/im.exec(head)?.[1] ?? 0);
        if (bodyEnd >= 0 && rest.length >= bodyEnd) {
          this.buffered = rest.slice(bodyEnd);
          return head;
        }
      }
      if (this.gone) throw new Error(`the connection closed; have ${JSON.stringify(this.buffered)}`);
      if (Date.now() > deadline) throw new Error(`no whole answer within 10 s; have ${JSON.stringify(this.buffered)}`);
      await new Promise<void>((wake) => {
        this.waiting.push(wake);
        setTimeout(wake, 100);
      });
    }
  }
}

/** Where a chunked body ends (after its last, empty chunk), or -1 while it has not arrived whole. */
function chunkedEnd(body: string): number {
  let at = 0;
  for (;;) {
    const line = body.indexOf('\r\n', at);
    if (line < 0) return -1;
    const size = parseInt(body.slice(at, line), 16);
    if (Number.isNaN(size)) return -1;
    at = line + 2 + size + 2;
    if (at > body.length) return -1;
    if (size === 0) return at;
  }
}
