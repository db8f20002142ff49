import { Agent, Dispatcher, EnvHttpProxyAgent, util } from 'undici';
import type { ProxySettings } from './providers.config';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** Who reads a response body: its chunks in order, then exactly one of end() or error(). */
export interface BodyReader {
  data(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
}

/** A response body, read once. */
export interface ResponseBody {
  /** The whole body has arrived. */
  readonly complete: boolean;
  /** Hands the body to `reader`: what has arrived, then the rest as it comes, then its end or its error. */
  read(reader: BodyReader): void;
  /** Done with it: a response not yet complete is aborted with `reason`, which closes its socket. */
  destroy(reason: Error): void;
}

export interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  body: ResponseBody;
}

/**
 * Pooled keep-alive connections per origin; enough for every permit of a prod
 * profile many times over. They open on demand and a free one is reused first,
 * so back-to-back calls keep to a warm connection (the streamed-chat bench
 * profile shows connects at 0.2% of the daemon's CPU).
 */
const CONNECTIONS_PER_ORIGIN = 256;

/** URLs whose origin and path are kept parsed: the chat endpoints, and a few of the Files API's. */
const PARSED_URLS = 64;

/**
 * POSTs JSON over undici's pooled dispatcher: keep-alive connections, no
 * web-stream layer (fetch's cost about a millisecond of CPU per streamed
 * call here), and HTTPS_PROXY / HTTP_PROXY / NO_PROXY through
 * EnvHttpProxyAgent. An abort (signal, or ending the body early) destroys
 * the request's socket at once, so the provider sees the client go.
 *
 * Requests go through `dispatch()` with one small handler per request that
 * is also the response and its body (UpstreamExchange), rather than
 * `request()`, which makes an async resource and a Node Readable for the
 * body on every call: about 4 KB and 30-50 µs of CPU per call in a loopback
 * comparison.
 */
export class HttpTransport {
  private readonly dispatcher: Dispatcher;
  /** Origin and path by URL: every call of a provider posts to the same one (bounded by PARSED_URLS). */
  private readonly parsed = new Map<string, { origin: string; path: string }>();

  constructor(proxy?: ProxySettings) {
    const options = {
      connections: CONNECTIONS_PER_ORIGIN,
      // No transport-level clocks: every call has its own deadline and every
      // stream its idle watch. undici's 300 s defaults would cut a non-streamed
      // answer that takes longer (Kimi web + thinking has 420 s).
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    this.dispatcher =
      proxy && (proxy.httpsProxy || proxy.httpProxy)
        ? new EnvHttpProxyAgent({
            ...options,
            httpsProxy: proxy.httpsProxy,
            httpProxy: proxy.httpProxy,
            noProxy: proxy.noProxy,
          })
        : new Agent(options);
  }

  post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<TransportResponse> {
    return this.request('POST', url, headers, body, signal);
  }

  /**
   * Any method, for the providers' other APIs (Files: GET, DELETE, multipart
   * POST). Goes to the dispatcher with the URL already split into origin and
   * path: undici's top-level request() parses the URL string on every call.
   */
  async request(
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    body: string | Buffer | undefined,
    signal: AbortSignal,
  ): Promise<TransportResponse> {
    const { origin, path } = this.split(url);
    return new Promise<TransportResponse>((resolve, reject) => {
      const exchange = new UpstreamExchange(signal, resolve, reject);
      if (signal.aborted) return exchange.onError(abortReason(signal));
      signal.addEventListener('abort', exchange, { once: true });
      this.dispatcher.dispatch({ origin, path, method, headers, body }, exchange);
    });
  }

  destroy(): void {
    void this.dispatcher.destroy().catch(() => undefined);
  }

  private split(url: string): { origin: string; path: string } {
    let parts = this.parsed.get(url);
    if (parts) return parts;
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`Only http and https URLs can be requested: ${parsed.protocol}`);
    }
    parts = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (this.parsed.size >= PARSED_URLS) this.parsed.clear();
    this.parsed.set(url, parts);
    return parts;
  }
}

/**
 * One request to undici, as the handler it calls back, the response the
 * caller gets, and that response's body: one object per request. It takes
 * undici's classic handler callbacks (onConnect ... onComplete), which undici
 * 7 runs as they are; the newer controller API would be wrapped per request.
 * Chunks that arrive before the body has a reader (a short answer comes with
 * its headers, in the same read) wait for it.
 */
/**
 * What an unread body may hold for its reader. Past it, undici stops reading
 * the socket until the body is read, so an upstream that sends faster than
 * the body is taken up waits in TCP, not in this process's memory.
 */
export const MAX_UNREAD_BODY_BYTES = 1024 * 1024;

class UpstreamExchange implements TransportResponse, ResponseBody, Dispatcher.DispatchHandler {
  status = 0;
  headers: ResponseHeaders = {};
  /** The call's signal, until the exchange ends. */
  private signal?: AbortSignal;
  /** undici's abort for this request, from onConnect. */
  private abort?: (err: Error) => void;
  /** Until the headers or a failure: the caller's promise. */
  private settle?: { resolve: (res: TransportResponse) => void; reject: (err: Error) => void };
  private reader?: BodyReader;
  private queued?: Buffer[];
  private queuedBytes = 0;
  /** undici's resume for this response's socket, from onHeaders. */
  private resume?: () => void;
  private wasRead = false;
  private state: 'open' | 'complete' | 'failed' = 'open';
  private failure?: Error;

  constructor(signal: AbortSignal, resolve: (res: TransportResponse) => void, reject: (err: Error) => void) {
    this.signal = signal;
    this.settle = { resolve, reject };
  }

  get body(): ResponseBody {
    return this;
  }

  get complete(): boolean {
    return this.state === 'complete';
  }

  /** The call's signal (this object is its listener): aborts the request wherever it is. */
  handleEvent(): void {
    if (this.signal) this.abort?.(abortReason(this.signal));
  }

  onConnect(abort: (err?: Error) => void): void {
    // Aborted while waiting for a connection: the listener found no request to abort yet.
    if (this.signal?.aborted) abort(abortReason(this.signal));
    else this.abort = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    this.status = status;
    this.resume = resume;
    // Parsed now, into strings: the raw ones are views of the socket's read buffer.
    this.headers = util.parseHeaders(rawHeaders);
    const settle = this.settle;
    this.settle = undefined;
    settle?.resolve(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.reader) {
      this.reader.data(chunk);
      return true;
    }
    (this.queued ??= []).push(chunk);
    this.queuedBytes += chunk.length;
    // false pauses the socket; read() resumes it.
    return this.queuedBytes < MAX_UNREAD_BODY_BYTES;
  }

  onComplete(): void {
    this.state = 'complete';
    const reader = this.ended();
    reader?.end();
  }

  onError(err: Error): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.failure = err;
    const settle = this.settle;
    this.settle = undefined;
    const reader = this.ended();
    if (settle) settle.reject(err);
    else reader?.error(err);
  }

  /**
   * Lets go of the call's signal and the body's reader, returning the reader.
   * A finished exchange can still be reachable from undici's request for a
   * while; when it held the reader, the whole read (its decoder, timer and
   * the answer so far) outlived young-generation GCs: about 5 KB a call
   * promoted, and longer scavenges.
   */
  private ended(): BodyReader | undefined {
    this.signal?.removeEventListener('abort', this);
    this.signal = undefined;
    this.abort = undefined;
    this.resume = undefined;
    const reader = this.reader;
    this.reader = undefined;
    return reader;
  }

  read(reader: BodyReader): void {
    if (this.wasRead) throw new Error('A response body is read once');
    this.wasRead = true;
    const queued = this.queued;
    const paused = this.queuedBytes >= MAX_UNREAD_BODY_BYTES;
    this.queued = undefined;
    this.queuedBytes = 0;
    if (this.state === 'open') this.reader = reader;
    if (queued) for (const chunk of queued) reader.data(chunk);
    if (this.state === 'complete') reader.end();
    else if (this.state === 'failed') reader.error(this.failure!);
    else if (paused) this.resume?.();
  }

  destroy(reason: Error): void {
    if (this.state !== 'open') return;
    this.queued = undefined;
    this.queuedBytes = 0;
    if (this.abort) this.abort(reason);
    else this.onError(reason);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('This operation was aborted');
}

/**
 * Reads a whole body as text, keeping at most `limit` bytes.
 * @throws the body's error (its request's abort reason, a socket closed before the end).
 */
export function readText(body: ResponseBody, limit = Infinity): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.read({
      data(chunk) {
        if (size < limit) chunks.push(chunk);
        size += chunk.length;
      },
      end() {
        const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
        resolve(Number.isFinite(limit) ? text.slice(0, limit) : text);
      },
      error: reject,
    });
  });
}

export function header(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
