import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { ClientAddressService } from './client-address.service';
import { ClientConnection, OutboundPolicy } from './client-connection';
import { CloseCode } from './gateway.constants';
import { gatewayConfig } from './gateway.config';
import { TokenBucket } from './rate-limiter';
import { RefusalLogService } from './refusal-log.service';
import { WriteCoalescer } from './write-coalescer';
import { MetricsService } from '../metrics/metrics.service';

export interface ConnectionStats {
  connections: number;
  sessions: number;
}

/** A socket we refused before its hello is cut off this long after our close frame, answered or not. */
const PRE_HELLO_CLOSE_GRACE_MS = 2000;
/** Slow-client log lines: at most one per this interval. */
const SLOW_CLIENT_LOG_INTERVAL_MS = 10_000;

/** The keepalive sweep runs this many times per the shorter of the ping interval and the pong timeout. */
const SWEEPS_PER_PERIOD = 4;

/** Registry of open connections, their sessions, limits and keepalive. */
@Injectable()
export class ConnectionsService implements OnModuleDestroy {
  private readonly logger = new Logger(ConnectionsService.name);
  private readonly bySocket = new Map<WebSocket, ClientConnection>();
  private readonly perIp = new Map<string, number>();
  /** Open connections per session id: a count, since nothing needs the members themselves. */
  private readonly sessions = new Map<string, number>();
  /** Connections still waiting for their hello, oldest first (Set keeps insertion order). */
  private readonly pending = new Set<ClientConnection>();
  private readonly outbound: OutboundPolicy;
  /** One bucket for all: each connection keeps only its own token count. */
  private readonly rateLimit: TokenBucket;
  private slowClientsSinceLog = 0;
  private lastSlowClientLog = 0;
  private accepting = true;
  /** One timer pings every connection in turn (none per connection); runs only while any is open. */
  private keepalive: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;
  /** Shared by every socket: `ws` calls a listener with the socket as `this`. */
  private readonly onPong: (this: WebSocket, data: Buffer) => void;

  constructor(
    @Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>,
    private readonly metrics: MetricsService,
    private readonly refusals: RefusalLogService,
    private readonly clientAddress: ClientAddressService,
  ) {
    this.outbound = {
      maxBufferedBytes: config.maxBufferedBytes,
      onDropped: () => this.metrics.wsDroppedFrames.inc(),
      onOverflow: (conn, queued) => this.closeSlowClient(conn, queued),
      coalescer: new WriteCoalescer(),
    };
    this.rateLimit = new TokenBucket(config.rateLimitPerSec, Date.now, config.rateLimitBurst);
    this.sweepMs = Math.min(config.pingIntervalMs, config.pingTimeoutMs) / SWEEPS_PER_PERIOD;
    const pong = (socket: WebSocket, data: Buffer) => this.pong(socket, data);
    this.onPong = function (this: WebSocket, data: Buffer) {
      pong(this, data);
    };
  }

  onModuleDestroy(): void {
    this.stopKeepalive();
  }

  /**
   * Admits a new socket, or closes it with 1008 when a limit is full. Limits
   * are checked before the hello so a flood never reaches the handshake.
   */
  open(
    socket: WebSocket,
    request: IncomingMessage | undefined,
    onHelloTimeout: (c: ClientConnection) => void,
  ): ClientConnection | undefined {
    const ip = request ? this.clientAddress.of(request) : 'unknown';
    if (!this.accepting) {
      socket.close(CloseCode.GOING_AWAY, 'server shutting down');
      return undefined;
    }
    if (this.bySocket.size >= this.config.maxConnections) {
      this.refusals.record('max_connections', ip);
      socket.close(CloseCode.POLICY_VIOLATION, 'too many connections');
      return undefined;
    }
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= this.config.maxConnectionsPerIp) {
      this.refusals.record('max_connections_per_ip', ip);
      socket.close(CloseCode.POLICY_VIOLATION, 'too many connections from this address');
      return undefined;
    }
    this.makeRoomForHello();
    const conn = new ClientConnection(randomUUID(), socket, ip, this.rateLimit, this.outbound, request?.socket);
    this.bySocket.set(socket, conn);
    this.perIp.set(ip, fromIp + 1);
    this.pending.add(conn);
    this.metrics.wsConnections.set(this.bySocket.size);
    this.metrics.wsPendingHellos.set(this.pending.size);
    conn.helloTimer = setTimeout(() => onHelloTimeout(conn), this.config.helloTimeoutMs);
    if (request) this.limitPreHelloBytes(conn, request);
    this.startKeepalive(conn);
    return conn;
  }

  get(socket: WebSocket): ClientConnection | undefined {
    return this.bySocket.get(socket);
  }

  /** Called once the hello succeeded. */
  joinSession(conn: ClientConnection, sessionId: string): void {
    conn.sessionId = sessionId;
    conn.phase = 'ready';
    conn.clearHelloTimer();
    this.forgetPending(conn);
    this.sessions.set(sessionId, (this.sessions.get(sessionId) ?? 0) + 1);
  }

  /**
   * Refuses a connection that has not completed its hello. It is cut off
   * shortly after our close frame, so a peer that never answers the close
   * handshake does not hold a connection slot for ws's 30 s close timeout.
   */
  refusePending(conn: ClientConnection, code: number, reason: string): void {
    this.forgetPending(conn);
    conn.close(code, reason);
    setTimeout(() => conn.socket.terminate(), PRE_HELLO_CLOSE_GRACE_MS).unref();
  }

  /** Sends through the connection's outbound bound; a socket we no longer track gets nothing. */
  send(socket: WebSocket, frame: object): void {
    this.bySocket.get(socket)?.send(frame);
  }

  /** Runs `task` once this turn's frames have been written (see WriteCoalescer.afterFlush). */
  afterWrites(task: () => void): void {
    this.outbound.coalescer.afterFlush(task);
  }

  /** Forgets a closed socket; returns its connection so callers can clean up after it. */
  close(socket: WebSocket): ClientConnection | undefined {
    const conn = this.bySocket.get(socket);
    if (!conn) return undefined;
    conn.phase = 'closing';
    conn.clearTimers();
    conn.end();
    this.bySocket.delete(socket);
    if (this.bySocket.size === 0) this.stopKeepalive();
    this.forgetPending(conn);
    this.metrics.wsConnections.set(this.bySocket.size);
    const left = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(conn.ip);
    else this.perIp.set(conn.ip, left);
    // Counted once: a connection leaves bySocket above only once.
    if (conn.sessionId) {
      const members = (this.sessions.get(conn.sessionId) ?? 1) - 1;
      if (members <= 0) this.sessions.delete(conn.sessionId);
      else this.sessions.set(conn.sessionId, members);
    }
    return conn;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  all(): ClientConnection[] {
    return [...this.bySocket.values()];
  }

  stats(): ConnectionStats {
    return { connections: this.bySocket.size, sessions: this.sessions.size };
  }

  hasSession(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /**
   * Unauthenticated sockets get their own small cap. When it is full the
   * oldest one goes, not the newcomer: an agent says hello within
   * milliseconds, so sockets held open by a flood are what gets evicted.
   */
  private makeRoomForHello(): void {
    for (const oldest of this.pending) {
      if (this.pending.size < this.config.maxPendingHellos) return;
      this.refusals.record('pending_hellos', oldest.ip);
      this.refusePending(oldest, CloseCode.TRY_AGAIN_LATER, 'too many connections awaiting hello');
    }
  }

  private forgetPending(conn: ClientConnection): void {
    if (this.pending.delete(conn)) this.metrics.wsPendingHellos.set(this.pending.size);
  }

  /**
   * A hello is tiny, but ws accepts frames up to EXAI_WS_MAX_BYTES and buffers
   * them whole. Counting the raw bytes of a connection that has not said hello
   * cuts an oversized hello off after `maxHelloBytes`, before ws has buffered
   * it. ws reads the socket first, so a valid hello has switched the phase
   * before this listener sees the chunk that carried it.
   */
  private limitPreHelloBytes(conn: ClientConnection, request: IncomingMessage): void {
    const raw = request.socket;
    const onData = (chunk: Buffer) => {
      if (conn.phase === 'ready') {
        raw.off('data', onData);
        return;
      }
      conn.preHelloBytes += chunk.length;
      if (conn.preHelloBytes <= this.config.maxHelloBytes) return;
      if (conn.phase === 'closing') {
        // Data after the refusal: never buffer it, whatever resumed the socket.
        raw.off('data', onData);
        conn.socket.terminate();
        return;
      }
      // Stop reading (ws's own pause, which ws never undoes by itself): what
      // the peer still sends stays in the kernel, not in ws's buffers, and
      // our close frame still goes out.
      conn.socket.pause();
      this.refusals.record('hello_too_large', conn.ip);
      this.refusePending(conn, CloseCode.MESSAGE_TOO_BIG, `hello larger than ${this.config.maxHelloBytes} bytes`);
    };
    raw.on('data', onData);
  }

  /**
   * A client that stopped reading while results pile up: close it and end its
   * calls at once (their permits are released as on a disconnect). The close
   * frame waits behind what is queued, so a client that resumes reading sees
   * the code; ws cuts the socket after its close timeout otherwise.
   */
  private closeSlowClient(conn: ClientConnection, queued: number): void {
    if (conn.phase === 'closing') return;
    this.metrics.wsSlowClientClosed.inc();
    this.slowClientsSinceLog++;
    const now = Date.now();
    if (now - this.lastSlowClientLog >= SLOW_CLIENT_LOG_INTERVAL_MS) {
      this.logger.warn(
        `Closed ${this.slowClientsSinceLog} connection(s) not reading their results (latest ${conn.id} from ${conn.ip}, ${queued} bytes queued; EXAI_WS_MAX_BUFFERED_BYTES=${this.config.maxBufferedBytes})`,
      );
      this.lastSlowClientLog = now;
      this.slowClientsSinceLog = 0;
    }
    conn.close(CloseCode.POLICY_VIOLATION, 'send buffer full: client is not reading');
  }

  /**
   * Protocol keepalive. Each ping carries a fresh nonce and only a pong that
   * echoes it counts: an unsolicited pong (which a client can send without
   * reading anything) keeps nothing alive. The first ping goes one interval
   * after the connection opened.
   */
  private startKeepalive(conn: ClientConnection): void {
    conn.nextPingAt = Date.now() + this.config.pingIntervalMs;
    conn.socket.on('pong', this.onPong);
    this.keepalive ??= setInterval(() => this.sweep(), this.sweepMs).unref();
  }

  private stopKeepalive(): void {
    clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  /** Whether the keepalive sweep is scheduled (it stops with the last connection). */
  get keepaliveRunning(): boolean {
    return this.keepalive !== undefined;
  }

  /**
   * One pass over every connection: a connection whose pong is overdue is
   * dropped, one that is due a ping gets it. A timer per connection would
   * cost a Timeout and a closure on every idle socket; the price of one
   * sweep is that a ping or a drop comes up to `sweepMs` late.
   */
  sweep(now = Date.now()): void {
    for (const conn of this.bySocket.values()) {
      const socket = conn.socket;
      if (socket.readyState !== socket.OPEN) continue;
      if (conn.pingNonce) {
        // An unanswered ping keeps its deadline: no new ping resets it.
        if (now < conn.pongDueAt) continue;
        this.logger.warn(`Connection ${conn.id} (${conn.ip}) missed its pong; dropping it`);
        // terminate() fires 'close', which cancels the connection's calls.
        socket.terminate();
        continue;
      }
      if (now < conn.nextPingAt) continue;
      conn.pingNonce = randomBytes(8);
      conn.pongDueAt = now + this.config.pingTimeoutMs;
      conn.nextPingAt = now + this.config.pingIntervalMs;
      socket.ping(conn.pingNonce);
    }
  }

  private pong(socket: WebSocket, data: Buffer): void {
    const conn = this.bySocket.get(socket);
    if (conn?.pingNonce && data.equals(conn.pingNonce)) conn.pingNonce = undefined;
  }
}
