import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { isObservable, Subscription } from 'rxjs';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import type { BoundHandler, ClientConnection, ReplyStream } from './client-connection';
import { ConnectionsService } from './connections.service';
import type { CallToolFrame } from './dto/client-frames';
import { RATE_LIMITED_EVENT } from './gateway.constants';
import { HandshakeService } from './handshake.service';
import { UpgradeGuardService, UpgradeRefusal } from './upgrade-guard.service';
import { parseWsFrame, ParsedFrame } from './ws-message.parser';

export interface GatewayAdapterOptions {
  maxPayload: number;
}

/** What the rate-limited handler gets: the throttled frame's op and id, and when to retry. */
export interface RateLimitedPayload {
  op: string;
  request_id?: string;
  retryAfterSecs: number;
}

/** Nest's default: the gateway shares the HTTP server's port. */
const SHARED_HTTP_PORT = 0;

/** Where a connection's replies go: shared by every reply, so a reply holds no closures of its own. */
interface ReplySink {
  deliver(conn: ClientConnection, reply: unknown): void;
  failed(err: unknown): void;
}

/**
 * platform-ws adapter with the EXAI front door: the upgrade check (Origin,
 * per-address backoff; any path is accepted), frame parsing that never drops
 * a frame, the synchronous hello handshake, the per-connection rate limit,
 * and replies sent through the connection's outbound bound.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly connections: ConnectionsService;
  private readonly handshake: HandshakeService;
  private readonly guard: UpgradeGuardService;
  private upgradeListener: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  /** Event name to its slot in every connection's `handlers` (Nest binds the same handlers to each). */
  private readonly handlerSlots = new Map<string, number>();
  private readonly replies: ReplySink;
  /** Shared by every socket: `ws` calls a listener with the socket as `this`. */
  private readonly onSocketMessage: (this: WebSocket, data: RawData) => void;
  private readonly onSocketError = (err: Error) => this.logger.error(err);

  constructor(
    app: INestApplicationContext,
    private readonly gatewayOptions: GatewayAdapterOptions,
  ) {
    super(app, { messageParser: parseWsFrame });
    this.connections = app.get(ConnectionsService);
    this.handshake = app.get(HandshakeService);
    this.guard = app.get(UpgradeGuardService);
    this.replies = {
      deliver: (conn, reply) => {
        if (reply !== undefined && reply !== null) this.connections.send(conn.socket, reply);
      },
      failed: (err) => this.logger.error(err),
    };
    const onMessage = (client: WebSocket, data: RawData) => this.onMessage(client, data);
    this.onSocketMessage = function (this: WebSocket, data: RawData) {
      onMessage(this, data);
    };
  }

  override create(
    port: number,
    options?: Record<string, unknown> & { namespace?: string; server?: unknown; path?: string },
  ): unknown {
    const httpServer = this.httpServer as HttpServer | undefined;
    const { path: _path, server: _server, namespace: _namespace, ...wsOptions } = options ?? {};
    if (port !== SHARED_HTTP_PORT || !httpServer || this.upgradeListener) {
      return super.create(port, { ...(options ?? {}), ...this.serverOptions() });
    }
    const wss = this.bindErrorHandler(new WebSocketServer({ ...wsOptions, noServer: true, ...this.serverOptions() }));
    // Our own upgrade listener instead of platform-ws's: that one destroys the
    // socket without an HTTP answer for any path but the gateway's, and the
    // old daemon (and its clients) ignored the path.
    this.upgradeListener = (req, socket, head) => this.upgrade(wss, req, socket, head);
    httpServer.on('upgrade', this.upgradeListener);
    return wss;
  }

  /**
   * ws closes with 1009 by itself once a frame exceeds maxPayload. No client
   * tracking: ConnectionsService lists the open sockets, and ws's own Set
   * would add an entry and a close listener to each.
   */
  private serverOptions(): { maxPayload: number; clientTracking: false } {
    return { maxPayload: this.gatewayOptions.maxPayload, clientTracking: false };
  }

  override async dispose(): Promise<void> {
    if (this.upgradeListener) (this.httpServer as HttpServer).off('upgrade', this.upgradeListener);
    this.upgradeListener = undefined;
    await super.dispose();
  }

  /**
   * platform-ws's loop, with four changes: replies go through the connection's
   * outbound bound instead of straight to `ws.send`; a connection the gateway
   * gave up on (a client that stopped reading) ends its calls at once, as a
   * disconnect does, without waiting for the socket to close; a handler's
   * answer is taken as it comes (a value, or the observable its interceptors
   * built) instead of through Nest's `transform`, whose promise-to-observable
   * wrapping added three subscribers and two promise hops to every call's
   * path; and nothing is built per connection that could be shared, because
   * every idle connection carries it: one message listener for all sockets
   * (no closures, no rxjs chain), one event-to-handler index, and the reply
   * set made with a connection's first call. A connection keeps only the
   * handler functions Nest bound to it.
   */
  override bindMessageHandlers(client: WebSocket, handlers: MessageMappingProperties[]): void {
    const conn = this.connections.get(client);
    if (!conn) return;
    const bound = new Array<BoundHandler>(handlers.length);
    for (const handler of handlers) {
      const event = handler.message as string;
      let slot = this.handlerSlots.get(event);
      if (slot === undefined) this.handlerSlots.set(event, (slot = this.handlerSlots.size));
      bound[slot] = handler.callback as BoundHandler;
    }
    conn.handlers = bound;
    client.on('message', this.onSocketMessage);
  }

  /** `ws` fires 'close' once; Nest's `once` wrapper would cost three objects per connection. */
  override bindClientDisconnect(client: WebSocket, callback: (...args: unknown[]) => void): void {
    client.on('close', callback);
  }

  /** Nest's version adds an error listener closure to every socket; this one is shared. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (ws: WebSocket) => ws.on('error', this.onSocketError));
    server.on('error', this.onSocketError);
    return server;
  }

  /** Without ws's client tracking, the sockets still open when the server closes are the gateway's own list. */
  override async close(server: WebSocketServer): Promise<void> {
    for (const conn of this.connections.all()) conn.socket.terminate();
    await super.close(server);
  }

  private onMessage(client: WebSocket, data: RawData): void {
    const conn = this.connections.get(client);
    if (!conn) return;
    const answer = this.dispatch(conn, data);
    if (answer === undefined) return;
    new PendingReply(conn, this.replies).take(answer);
  }

  /**
   * Parses a frame and runs its handler: what the handler answered (Nest's
   * handlers answer with a promise of a value or of an observable), or
   * undefined when nothing answers (the hello, a connection going away).
   */
  private dispatch(conn: ClientConnection, data: RawData): unknown {
    if (conn.phase === 'closing') return undefined;
    const parsed = this.messageParser(data) as ParsedFrame;
    if (conn.phase === 'awaiting_hello') {
      this.handshake.handleFirstFrame(conn, parsed);
      return undefined;
    }
    const dispatched = this.throttle(conn, parsed);
    const slot = this.handlerSlots.get(dispatched.event);
    const handler = slot === undefined ? undefined : conn.handlers?.[slot];
    if (!handler) return undefined;
    try {
      return handler(dispatched.data, dispatched.event);
    } catch (err) {
      this.logger.error(err);
      return undefined;
    }
  }

  /**
   * The per-connection rate limit. A throttled frame is not dropped: it is
   * dispatched to the rate-limited handler, which answers it in its own kind
   * (a call_tool ends in its own call_tool_res). A cancel is never throttled:
   * it only ever frees work.
   */
  private throttle(conn: ClientConnection, parsed: ParsedFrame): { event: string; data: unknown } {
    if (parsed.event === 'cancel') return parsed;
    const wait = conn.takeToken();
    if (wait <= 0) return parsed;
    const retryAfterSecs = Math.max(0.1, Math.ceil(wait * 10) / 10);
    const frame = parsed.data as { request_id?: unknown };
    const payload: RateLimitedPayload = {
      op: parsed.event,
      retryAfterSecs,
      ...(typeof frame.request_id === 'string' ? { request_id: frame.request_id } : {}),
    };
    // A call without an id still gets one, as an admitted call would.
    if (parsed.event === 'call_tool') payload.request_id = (frame as CallToolFrame).request_id ?? randomUUID();
    return { event: RATE_LIMITED_EVENT, data: payload };
  }

  private upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Not an arrow here: it stays on the socket for its life and would keep
    // this call's scope, the whole upgrade request, alive with it.
    socket.on('error', ignoreError);
    const refusal = this.guard.check(req);
    if (refusal) return refuseUpgrade(socket, refusal);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  }
}

function ignoreError(): void {}

function refuseUpgrade(socket: Duplex, refusal: UpgradeRefusal): void {
  const body = `${refusal.message}\n`;
  const headers = {
    Connection: 'close',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...(refusal.headers ?? {}),
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  const statusText = refusal.status === 403 ? 'Forbidden' : refusal.status === 429 ? 'Too Many Requests' : 'Refused';
  socket.end(`HTTP/1.1 ${refusal.status} ${statusText}\r\n${head}\r\n\r\n${body}`);
}

/**
 * The replies to one message: the handler's answer, or every value of the
 * observable it answered with, until that ends or the connection does. A
 * reply closed before its answer arrived never subscribes to it.
 */
class PendingReply implements ReplyStream {
  private closed = false;
  private inner: Subscription | undefined;

  constructor(
    private readonly conn: ClientConnection,
    private readonly sink: ReplySink,
  ) {
    conn.addReply(this);
  }

  take(answer: unknown): void {
    if (answer instanceof Promise) {
      answer.then(
        (value: unknown) => this.settle(value),
        (err: unknown) => this.fail(err),
      );
    } else this.settle(answer);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.removeReply(this);
    this.inner?.unsubscribe();
  }

  private settle(value: unknown): void {
    if (this.closed) return;
    if (!isObservable(value)) {
      if (value instanceof Promise) return this.take(value);
      this.sink.deliver(this.conn, value);
      return this.close();
    }
    const inner = value.subscribe({
      next: (reply) => this.sink.deliver(this.conn, reply),
      error: (err: unknown) => this.fail(err),
      complete: () => this.close(),
    });
    // It may have ended (and closed this) while subscribing.
    if (this.closed) inner.unsubscribe();
    else this.inner = inner;
  }

  private fail(err: unknown): void {
    this.sink.failed(err);
    this.close();
  }
}
