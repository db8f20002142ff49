import type { WebSocket } from 'ws';
import { TokenBucket } from './rate-limiter';

export type ConnectionPhase = 'awaiting_hello' | 'ready' | 'closing';

/** One WebSocket connection and what the gateway knows about it. */
export class ClientConnection {
  phase: ConnectionPhase = 'awaiting_hello';
  sessionId: string | undefined;
  readonly openedAt = Date.now();
  helloTimer: NodeJS.Timeout | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  pongDeadline: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly ip: string,
    readonly bucket: TokenBucket,
  ) {}

  get isLoopback(): boolean {
    return (
      this.ip === '127.0.0.1' || this.ip === '::1' || this.ip.startsWith('127.') || this.ip.startsWith('::ffff:127.')
    );
  }

  send(frame: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    this.phase = 'closing';
    this.clearTimers();
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  clearTimers(): void {
    clearTimeout(this.helloTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongDeadline);
  }
}
