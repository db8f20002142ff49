import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimHttpError } from './simulator.errors';

/** Writes a complete failure response unless the socket is already gone. */
export function writeError(res: ServerResponse, err: SimHttpError): void {
  if (res.destroyed || res.headersSent) return;
  if (err.raw) {
    res.writeHead(err.status, { 'Content-Type': err.raw.contentType, ...err.headers });
    res.end(err.raw.text);
    return;
  }
  res.writeHead(err.status, { 'Content-Type': 'application/json; charset=UTF-8', ...err.headers });
  res.end(JSON.stringify(err.body));
}

export function writeJson(res: ServerResponse, status: number, body: unknown, contentType: string): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'Content-Type': contentType });
  res.end(JSON.stringify(body));
}

/**
 * Reads the request body; undefined (and the rest discarded) once it passes
 * `limit` bytes. Rejects if the client goes away mid-upload.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

/**
 * One chat request/response pair. Every wait goes through it so a client
 * abort (socket close) stops timers at once, and it tells a client abort
 * apart from the simulator cutting the connection on purpose.
 */
export class SimExchange {
  private readonly controller = new AbortController();
  private readonly closeHandlers: Array<() => void> = [];
  private cutByServer = false;

  constructor(
    readonly res: ServerResponse,
    onClosed: (clientAborted: boolean) => void,
  ) {
    res.on('close', () => {
      const clientAborted = !res.writableEnded && !this.cutByServer;
      this.controller.abort();
      for (const handler of this.closeHandlers) handler();
      onClosed(clientAborted);
    });
  }

  get closed(): boolean {
    return this.controller.signal.aborted;
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  /** Resolves true after `ms`, or false as soon as the client is gone. */
  sleep(ms: number): Promise<boolean> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', done);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Never answers; resolves only when the client closes the socket. */
  untilClosed(): Promise<void> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  sendError(err: SimHttpError): void {
    writeError(this.res, err);
  }

  sendBody(status: number, text: string, headers: Record<string, string>): void {
    if (this.closed) return;
    this.res.writeHead(status, headers);
    this.res.end(text);
  }

  /** Sends headers now, so the client sees the response start before the first token. */
  startStream(status: number, headers: Record<string, string>): void {
    if (this.closed) return;
    this.res.writeHead(status, headers);
    this.res.flushHeaders();
  }

  /** Resolves once the bytes are handed to the socket (or the socket is gone). */
  write(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.res.write(text, () => resolve()));
  }

  end(text?: string): void {
    if (!this.closed) this.res.end(text);
  }

  /** Cuts the connection with no further bytes (`[[sim:drop]]`); not counted as a client abort. */
  cut(): void {
    this.cutByServer = true;
    this.res.socket?.destroy();
    this.res.destroy();
  }
}
