import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { EncodedFrame } from './call-frames';
import type { BucketState, TokenBucket } from './rate-limiter';
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

/** A message handler of one connection, as Nest binds it: `(frame data, event name)`. */
export type BoundHandler = (data: unknown, event: string) => unknown;

/** The replies still coming to one message (a call's frames); closing it stops them. */
export interface ReplyStream {
  close(): void;
}

/**
 * One WebSocket connection and what the gateway knows about it. Thousands sit
 * idle at once, so everything a connection needs per message or per call is
 * a plain field here, created when first needed, and the listeners on its
 * socket are shared functions, not closures made per connection.
 */
export class ClientConnection implements BucketState {
  phase: ConnectionPhase = 'awaiting_hello';
  sessionId: string | undefined;
  helloTimer: NodeJS.Timeout | undefined;
  /** Payload of our outstanding ping; only a pong echoing it proves the peer reads. */
  pingNonce: Buffer | undefined;
  /** When the keepalive sweep next pings (ms since the epoch). */
  nextPingAt = 0;
  /** When an outstanding ping's pong is overdue and the sweep drops the connection. */
  pongDueAt = 0;
  /** Bytes received before the hello completed. */
  preHelloBytes = 0;
  /** This connection's rate-limit tokens (see TokenBucket, which is shared). */
  tokens = 0;
  tokensAt = 0;
  /** This connection's message handlers, in the gateway adapter's order (see GatewayWsAdapter). */
  handlers: BoundHandler[] | undefined;
  /** Replies still coming, cut off when the connection ends; the set is made with the first. */
  private replies: Set<ReplyStream> | undefined;
  private ended = false;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly ip: string,
    private readonly rateLimit: TokenBucket,
    private readonly outbound: OutboundPolicy,
    /** The TCP socket under `socket`, when known: corked so one turn's frames leave in one write. */
    private readonly raw?: Writable,
  ) {
    rateLimit.fill(this);
  }

  /** Takes a rate-limit token: 0, or the seconds until one is available. */
  takeToken(): number {
    return this.rateLimit.take(this);
  }

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

  /** Tracks a reply stream until it closes or the connection ends; on an ended connection it is closed at once. */
  addReply(reply: ReplyStream): void {
    if (this.ended) return reply.close();
    (this.replies ??= new Set()).add(reply);
  }

  /** A reply stream closed; the set goes with the last one so an idle connection holds none. */
  removeReply(reply: ReplyStream): void {
    if (!this.replies?.delete(reply)) return;
    if (this.replies.size === 0) this.replies = undefined;
  }

  get pendingReplies(): number {
    return this.replies?.size ?? 0;
  }

  close(code: number, reason: string): void {
    this.phase = 'closing';
    this.clearTimers();
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
    }
    this.end();
  }

  /**
   * Ends the connection's calls now, without waiting for the socket's close
   * event: every reply stream still running is closed (a call's stream ends
   * its call, as on a disconnect).
   */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const replies = this.replies;
    this.replies = undefined;
    this.handlers = undefined;
    if (replies) for (const reply of replies) reply.close();
  }

  clearTimers(): void {
    this.clearHelloTimer();
    this.pingNonce = undefined;
  }

  /** Cleared and dropped: a spent timer kept on an idle connection still holds its closure. */
  clearHelloTimer(): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
  }
}
