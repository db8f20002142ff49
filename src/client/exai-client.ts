import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

export interface ToolInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ProgressInfo {
  note?: string;
  message?: string;
  level?: string;
  position?: number;
  waiting_for?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (p: ProgressInfo) => void;
}

export interface CallSuccess {
  requestId: string;
  text: string;
  /** The ToolOutput `content`, when the output is the daemon's ToolOutput JSON. */
  content: string;
  metadata?: Record<string, unknown>;
  /** The daemon answered from its result cache (`from_cache`): the tool did not run again. */
  fromCache: boolean;
}

/** How the CLI and the MCP bridge tell a person or an agent that an answer came from the cache. */
export const FROM_CACHE_NOTE =
  '[from_cache] Served from the EXAI result cache: an identical earlier call of this session already ran; the tool did not run again.';

/** A call that ended with a `call_tool_res` error frame (or never got one). */
export class ExaiCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ExaiCallError';
  }

  get retryAfter(): number | undefined {
    return typeof this.fields.retry_after === 'number' ? this.fields.retry_after : undefined;
  }
}

export interface ExaiClientOptions {
  url: string;
  token?: string;
  sessionId?: string;
  /** Reconnect with backoff after the connection drops (the bridge does; the CLI does not). */
  reconnect?: boolean;
  /** How long a call may wait for a connection before failing. */
  connectTimeoutMs?: number;
  log?: (message: string) => void;
}

type Frame = Record<string, unknown> & { op?: string };

interface PendingCall {
  resolve(value: CallSuccess): void;
  reject(err: Error): void;
  onProgress?: (p: ProgressInfo) => void;
}

const MAX_BACKOFF_MS = 5000;

/**
 * A multiplexing client for the EXAI protocol: any number of calls share one
 * socket and are matched by request_id, so concurrent calls never take each
 * other's frames. After a drop, calls in flight fail (their outcome is
 * unknown, and they are never re-sent under a new id) and the client
 * reconnects with backoff, saying hello again with the same session id.
 */
export class ExaiClient extends EventEmitter {
  private ws: WebSocket | undefined;
  private ready: Promise<void> | undefined;
  private readonly calls = new Map<string, PendingCall>();
  private readonly controls = new Map<string, (frame: Frame) => void>();
  private healthWaiters: Array<(frame: Frame) => void> = [];
  private closed = false;
  private attempt = 0;
  sessionId: string | undefined;

  constructor(private readonly options: ExaiClientOptions) {
    super();
    this.sessionId = options.sessionId;
  }

  /** Connects and says hello; resolves once the daemon acked it. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('client closed'));
    this.ready ??= this.open().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async listTools(): Promise<ToolInfo[]> {
    const frame = await this.control({ op: 'list_tools' });
    return (frame.tools as ToolInfo[]) ?? [];
  }

  async health(): Promise<Record<string, unknown>> {
    await this.connected();
    const reply = new Promise<Frame>((resolve) => this.healthWaiters.push(resolve));
    this.send({ op: 'health' });
    const frame = lostOrFrame(await reply);
    return (frame.health as Record<string, unknown>) ?? {};
  }

  /**
   * Calls a tool. Resolves with its text on success.
   * @throws ExaiCallError with the daemon's error code (CANCELLED after `signal` aborts).
   */
  async callTool(name: string, args: Record<string, unknown>, options: CallOptions = {}): Promise<CallSuccess> {
    await this.connected();
    const requestId = randomUUID();
    return new Promise<CallSuccess>((resolve, reject) => {
      const onAbort = () => this.send({ op: 'cancel', request_id: requestId });
      const done = () => options.signal?.removeEventListener('abort', onAbort);
      this.calls.set(requestId, {
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        onProgress: options.onProgress,
      });
      if (options.signal?.aborted) {
        this.calls.delete(requestId);
        return reject(new ExaiCallError('CANCELLED', 'Cancelled before it was sent'));
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ op: 'call_tool', request_id: requestId, name, arguments: args });
    });
  }

  close(): void {
    this.closed = true;
    this.failAll('client closed');
    this.ws?.close();
  }

  get url(): string {
    return this.options.url;
  }

  get isConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.ready !== undefined;
  }

  private async connected(): Promise<void> {
    const timeout = this.options.connectTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new ExaiCallError(
                  'DISCONNECTED',
                  `No connection to the daemon at ${this.options.url} within ${timeout} ms`,
                ),
              ),
            timeout,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url);
      this.ws = ws;
      let acked = false;
      ws.on('open', () => {
        const hello: Frame = { op: 'hello', token: this.options.token ?? '' };
        if (this.sessionId) hello.session_id = this.sessionId;
        ws.send(JSON.stringify(hello));
      });
      ws.on('message', (data) => {
        let frame: Frame;
        try {
          frame = JSON.parse((data as Buffer).toString('utf8')) as Frame;
        } catch {
          return;
        }
        if (!acked && frame.op === 'hello_ack') {
          if (frame.ok !== true) {
            reject(new ExaiCallError('HELLO_REFUSED', `The daemon refused the hello: ${String(frame.error)}`));
            return;
          }
          acked = true;
          this.attempt = 0;
          this.sessionId = String(frame.session_id);
          this.emit('connected', this.sessionId);
          resolve();
          return;
        }
        this.dispatch(frame);
      });
      ws.on('error', (err) => {
        if (!acked) reject(err);
      });
      ws.on('close', (code, reason) => {
        if (!acked) reject(new ExaiCallError('DISCONNECTED', `Connection closed (${code} ${reason.toString()})`));
        this.ready = undefined;
        this.failAll(`connection to the daemon was lost (${code}); the call's outcome is unknown`);
        this.emit('disconnected', code);
        if (acked && this.options.reconnect && !this.closed) this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.attempt++);
    this.options.log?.(`Reconnecting to ${this.options.url} in ${delay} ms`);
    setTimeout(() => {
      if (this.closed) return;
      this.connect().catch((err: unknown) => {
        this.options.log?.(`Reconnect failed: ${(err as Error).message}`);
        // A refused token will be refused again: stop, and let the owner say so once.
        if (err instanceof ExaiCallError && err.code === 'HELLO_REFUSED') {
          this.emit('refused', err);
          return;
        }
        this.scheduleReconnect();
      });
    }, delay).unref();
  }

  private dispatch(frame: Frame): void {
    const id = typeof frame.request_id === 'string' ? frame.request_id : undefined;
    if (frame.op === 'health_res') {
      this.healthWaiters.shift()?.(frame);
      return;
    }
    if (id && this.controls.has(id)) {
      this.controls.get(id)!(frame);
      this.controls.delete(id);
      return;
    }
    const call = id ? this.calls.get(id) : undefined;
    if (!call || !id) {
      if (frame.op === 'error') this.options.log?.(`Daemon error: ${String(frame.message)}`);
      return;
    }
    if (frame.op === 'progress') {
      call.onProgress?.({
        note: frame.note as string | undefined,
        message: frame.message as string | undefined,
        level: frame.level as string | undefined,
        position: frame.position as number | undefined,
        waiting_for: frame.waiting_for as string | undefined,
      });
      return;
    }
    if (frame.op !== 'call_tool_res') return;
    this.calls.delete(id);
    if (frame.error && typeof frame.error === 'object') {
      const { code, message, ...fields } = frame.error as Record<string, unknown>;
      call.reject(new ExaiCallError(String(code), String(message), fields));
      return;
    }
    call.resolve(successOf(id, frame));
  }

  private async control(frame: Frame): Promise<Frame> {
    await this.connected();
    const requestId = randomUUID();
    const reply = new Promise<Frame>((resolve) => this.controls.set(requestId, resolve));
    this.send({ ...frame, request_id: requestId });
    return lostOrFrame(await reply);
  }

  private send(frame: Frame): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private failAll(why: string): void {
    for (const [id, call] of this.calls) {
      this.calls.delete(id);
      call.reject(new ExaiCallError('DISCONNECTED', why));
    }
    const lost: Frame = { op: 'error', message: why };
    for (const [id, waiter] of this.controls) {
      this.controls.delete(id);
      waiter(lost);
    }
    for (const waiter of this.healthWaiters.splice(0)) waiter(lost);
  }
}

/**
 * Control replies are failed with an error frame when the connection drops;
 * a throttled control op is answered with a RATE_LIMITED error (a health
 * request with `ok:false`), which fails just that request.
 */
function lostOrFrame(frame: Frame): Frame {
  if (frame.code === 'RATE_LIMITED' || frame.error === 'RATE_LIMITED') {
    const message = typeof frame.message === 'string' ? frame.message : 'rate_limit_exceeded';
    throw new ExaiCallError('RATE_LIMITED', message, { retry_after: frame.retry_after });
  }
  if (frame.op === 'error') throw new ExaiCallError('DISCONNECTED', String(frame.message));
  return frame;
}

function successOf(requestId: string, frame: Frame): CallSuccess {
  const outputs = (frame.outputs as Array<{ text?: string }> | undefined) ?? [];
  const text = outputs.map((o) => o.text ?? '').join('\n\n');
  let content = text;
  let metadata: Record<string, unknown> | undefined;
  if (outputs.length === 1) {
    try {
      const parsed = JSON.parse(text) as { status?: string; content?: unknown; metadata?: Record<string, unknown> };
      if (parsed && typeof parsed.content === 'string') {
        content = parsed.content;
        metadata = parsed.metadata;
      }
    } catch {
      // Not a ToolOutput: the raw text is the content.
    }
  }
  return { requestId, text, content, metadata, fromCache: frame.from_cache === true };
}
