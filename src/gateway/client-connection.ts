import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { EncodedFrame } from './call-frames';
import { TokenBucket } from './rate-limiter';
import type { WriteCoalescer } from './write-coalescer';

export type ConnectionPhase = 'awaiting_hello' | 'ready' | 'closing';

/** How a connection bounds what it queues for a client that reads slowly or not at all. */
export interface OutboundPolicy {
  maxBufferedBytes: number;
  /** An optional frame (progress, heartbeat) was dropped because the buffer is full. */
  onDropped(conn: ClientConnection): void;
  /** A frame that must reach the client found the buffer full; the connection has to go. */
  onOverflow(conn: ClientConnection, queuedBytes: number): void;
  /** Joins the frames sent in one turn into one socket write. */
  coalescer: WriteCoalescer;
}

/** Progress frames (notes, tool progress, heartbeats) may be lost without breaking any call. */
function isOptional(frame: object): boolean {
  return (frame as { op?: unknown }).op === 'progress';
}

/** Everything but a progress frame or an ack is the last frame of its exchange. */
function endsExchange(frame: object): boolean {
  const op = (frame as { op?: unknown }).op;
  return op !== 'progress' && op !== 'call_tool_ack';
}

/** One WebSocket connection and what the gateway knows about it. */
export class ClientConnection {
  phase: ConnectionPhase = 'awaiting_hello';
  sessionId: string | undefined;
  readonly openedAt = Date.now();
  helloTimer: NodeJS.Timeout | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  pongDeadline: NodeJS.Timeout | undefined;
  /** Payload of our outstanding ping; only a pong echoing it proves the peer reads. */
  pingNonce: Buffer | undefined;
  /** Bytes received before the hello completed. */
  preHelloBytes = 0;
  droppedFrames = 0;
  /** Called once when the gateway gives up on the connection: its calls end as on a disconnect. */
  private onEnd: (() => void) | undefined;
  private ended = false;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly ip: string,
    readonly bucket: TokenBucket,
    private readonly outbound: OutboundPolicy,
    /** The TCP socket under `socket`, when known: corked so one turn's frames leave in one write. */
    private readonly raw?: Writable,
  ) {}

  /**
   * Queues a frame unless the client has stopped reading: while fewer than
   * `maxBufferedBytes` wait in the socket, any frame is queued (so at most the
   * bound plus one frame is held); past it, optional frames are dropped and a
   * required one closes the connection.
   */
  send(frame: object): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const data = frame instanceof EncodedFrame ? frame.json : JSON.stringify(frame);
    const queued = this.socket.bufferedAmount;
    if (isOptional(frame)) {
      if (queued + data.length > this.outbound.maxBufferedBytes) {
        this.droppedFrames++;
        this.outbound.onDropped(this);
        return;
      }
    } else if (queued >= this.outbound.maxBufferedBytes) {
      this.outbound.onOverflow(this, queued);
      return;
    }
    if (!this.raw) return this.socket.send(data);
    this.outbound.coalescer.hold(this.raw);
    this.socket.send(data);
    if (endsExchange(frame)) this.outbound.coalescer.answered(this.raw);
  }

  /** Runs `fn` when the connection ends (at once if it already has); one listener. */
  whenEnded(fn: () => void): void {
    if (this.ended) fn();
    else this.onEnd = fn;
  }

  close(code: number, reason: string): void {
    this.phase = 'closing';
    this.clearTimers();
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
    }
    this.end();
  }

  /** Ends the connection's calls now, without waiting for the socket's close event. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.();
  }

  clearTimers(): void {
    this.clearHelloTimer();
    clearInterval(this.pingTimer);
    clearTimeout(this.pongDeadline);
  }

  /** Cleared and dropped: a spent timer kept on an idle connection still holds its closure. */
  clearHelloTimer(): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
  }
}
