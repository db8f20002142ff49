import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { ClientConnection } from './client-connection';
import { CloseCode } from './gateway.constants';
import { gatewayConfig } from './gateway.config';
import { TokenBucket } from './rate-limiter';
import { MetricsService } from '../metrics/metrics.service';

export interface ConnectionStats {
  connections: number;
  sessions: number;
}

/** Registry of open connections, their sessions, limits and keepalive. */
@Injectable()
export class ConnectionsService {
  private readonly logger = new Logger(ConnectionsService.name);
  private readonly bySocket = new Map<WebSocket, ClientConnection>();
  private readonly perIp = new Map<string, number>();
  private readonly sessions = new Map<string, Set<ClientConnection>>();
  private accepting = true;

  constructor(
    @Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Admits a new socket, or closes it with 1008 when a limit is full. Limits
   * are checked before the hello so a flood never reaches the handshake.
   */
  open(
    socket: WebSocket,
    request: IncomingMessage | undefined,
    onHelloTimeout: (c: ClientConnection) => void,
  ): ClientConnection | undefined {
    const ip = request?.socket.remoteAddress ?? 'unknown';
    if (!this.accepting) {
      socket.close(CloseCode.GOING_AWAY, 'server shutting down');
      return undefined;
    }
    if (this.bySocket.size >= this.config.maxConnections) {
      this.logger.warn(`Connection from ${ip} refused: ${this.config.maxConnections} connections open`);
      socket.close(CloseCode.POLICY_VIOLATION, 'too many connections');
      return undefined;
    }
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= this.config.maxConnectionsPerIp) {
      this.logger.warn(`Connection from ${ip} refused: ${fromIp} connections from that address`);
      socket.close(CloseCode.POLICY_VIOLATION, 'too many connections from this address');
      return undefined;
    }
    const conn = new ClientConnection(randomUUID(), socket, ip, new TokenBucket(this.config.rateLimitPerSec));
    this.bySocket.set(socket, conn);
    this.perIp.set(ip, fromIp + 1);
    this.metrics.wsConnections.set(this.bySocket.size);
    conn.helloTimer = setTimeout(() => onHelloTimeout(conn), this.config.helloTimeoutMs);
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
    clearTimeout(conn.helloTimer);
    let members = this.sessions.get(sessionId);
    if (!members) {
      members = new Set();
      this.sessions.set(sessionId, members);
    }
    members.add(conn);
  }

  /** Forgets a closed socket; returns its connection so callers can clean up after it. */
  close(socket: WebSocket): ClientConnection | undefined {
    const conn = this.bySocket.get(socket);
    if (!conn) return undefined;
    conn.phase = 'closing';
    conn.clearTimers();
    this.bySocket.delete(socket);
    this.metrics.wsConnections.set(this.bySocket.size);
    const left = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(conn.ip);
    else this.perIp.set(conn.ip, left);
    if (conn.sessionId) {
      const members = this.sessions.get(conn.sessionId);
      members?.delete(conn);
      if (members && members.size === 0) this.sessions.delete(conn.sessionId);
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

  private startKeepalive(conn: ClientConnection): void {
    const socket = conn.socket;
    socket.on('pong', () => clearTimeout(conn.pongDeadline));
    conn.pingTimer = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      clearTimeout(conn.pongDeadline);
      conn.pongDeadline = setTimeout(() => {
        this.logger.warn(`Connection ${conn.id} (${conn.ip}) missed its pong; dropping it`);
        // terminate() fires 'close', which cancels the connection's calls.
        socket.terminate();
      }, this.config.pingTimeoutMs);
      socket.ping();
    }, this.config.pingIntervalMs);
  }
}
