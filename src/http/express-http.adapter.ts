import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { createServer, IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';

/** After this, a closing server destroys what is still open: the stop must end. */
const FORCE_CLOSE_MS = 5_000;

/** What this adapter touches of the Express application (express ships no types here). */
interface ExpressApp extends RequestListener {
  request: object;
  response: object;
}

/**
 * Nest's Express adapter, with the HTTP server making each request and
 * response with Express's prototypes already in place.
 *
 * Express gives every request and response its own prototypes with
 * `Object.setPrototypeOf` (app.handle). On Node 20 (V8 11.3) that turns
 * both objects, and everything they reach (the router's closures, the
 * headers, the parsed body), into survivors of the next young-generation
 * GC, which copies them to the old generation: a `/v1` chat call measured
 * about 8 KB promoted and a scavenge pause two to three times as long as a
 * WebSocket call's, and a bare Express server 33.7 KB allocated and 3 MB
 * promoted per GC against 13.3 KB and none with this. Node 24 does not
 * promote them. Here the server constructs them from subclasses whose
 * prototypes Express's own chain sits under, and `app.request` /
 * `app.response` name those prototypes, so Express's call finds the
 * prototype already set and changes nothing. Every Express and Nest
 * feature still sees its usual objects.
 */
export class ExaiExpressAdapter extends ExpressAdapter {
  private readonly Request: typeof IncomingMessage;
  private readonly Response: typeof ServerResponse;

  constructor() {
    super();
    const app = this.getInstance<ExpressApp>();
    class ExaiRequest extends IncomingMessage {}
    class ExaiResponse<R extends IncomingMessage = IncomingMessage> extends ServerResponse<R> {}
    Object.setPrototypeOf(ExaiRequest.prototype, app.request);
    Object.setPrototypeOf(ExaiResponse.prototype, app.response);
    app.request = ExaiRequest.prototype;
    app.response = ExaiResponse.prototype;
    this.Request = ExaiRequest;
    this.Response = ExaiResponse;
  }

  /**
   * Node's `close()` ends the keep-alive connections idle at that moment and
   * then waits for the rest. One busy at that moment stayed open after its
   * answer, and a client polling over it inside the keep-alive timeout (an
   * open status page polls every 2 s) kept the stop from ever ending. From
   * here on every answer closes its connection, and whatever is still open
   * after FORCE_CLOSE_MS (a request that never finishes arriving) is
   * destroyed.
   */
  override close(): Promise<unknown> | undefined {
    const server = this.httpServer as Server | undefined;
    if (!server) return super.close();
    server.prependListener('request', closeAfterAnswer);
    const force = setTimeout(() => server.closeAllConnections(), FORCE_CLOSE_MS);
    return Promise.resolve(super.close()).finally(() => clearTimeout(force));
  }

  /** The options this daemon never sets (HTTPS, 503 while closing, forced closes) keep Nest's own server. */
  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions || options?.return503OnClosing || options?.forceCloseConnections) {
      super.initHttpServer(options);
      return;
    }
    this.httpServer = createServer(
      { IncomingMessage: this.Request, ServerResponse: this.Response },
      this.getInstance<ExpressApp>(),
    );
  }
}

function closeAfterAnswer(_req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
}
