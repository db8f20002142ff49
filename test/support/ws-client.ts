import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { op: string };

const DEFAULT_WAIT_MS = 5000;

/** A real `ws` client that queues every frame so tests can await them in order. */
export class TestClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | undefined;
  private readonly closedPromise: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse((data as Buffer).toString('utf8')) as Frame);
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: String(reason) };
        this.wake();
        resolve(this.closed);
      });
    });
    ws.on('error', () => undefined);
  }

  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new TestClient(ws);
      const timer = setTimeout(() => reject(new Error('connect timed out')), DEFAULT_WAIT_MS);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Connects and completes the hello; rejects unless the ack is ok. */
  static async ready(url: string, hello: Record<string, unknown> = {}): Promise<TestClient> {
    const client = await TestClient.connect(url);
    client.send({ op: 'hello', ...hello });
    const ack = await client.next();
    if (ack.op !== 'hello_ack' || ack.ok !== true) throw new Error(`hello failed: ${JSON.stringify(ack)}`);
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame not yet consumed that matches, consuming it. */
  async next(match: (f: Frame) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = this.cursor; i < this.frames.length; i++) {
        if (match(this.frames[i])) {
          const [frame] = this.frames.splice(i, 1);
          return frame;
        }
      }
      if (this.closed)
        throw new Error(`socket closed (${this.closed.code}) while waiting; got ${JSON.stringify(this.frames)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs}ms; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every frame of one call up to and including its `call_tool_res`. */
  async callFrames(requestId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next((x) => x.request_id === requestId, timeoutMs);
      out.push(f);
      if (f.op === 'call_tool_res') return out;
    }
  }

  async result(requestId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame> {
    return this.next((f) => f.op === 'call_tool_res' && f.request_id === requestId, timeoutMs);
  }

  async waitClose(timeoutMs = DEFAULT_WAIT_MS): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no close within ${timeoutMs}ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Frames received and not consumed, after letting `ms` pass. */
  async quietFor(ms: number): Promise<Frame[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.slice(this.cursor);
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Parses the ToolOutput JSON inside a successful result. */
export function toolOutput(res: Frame): {
  status: string;
  content: string;
  content_type: string;
  metadata: Record<string, unknown>;
} {
  const outputs = res.outputs as Array<{ text: string }>;
  return JSON.parse(outputs[0].text);
}
