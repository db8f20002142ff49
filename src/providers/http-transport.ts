import type { Readable } from 'node:stream';
import { Agent, Dispatcher, EnvHttpProxyAgent } from 'undici';
import type { ProxySettings } from './providers.config';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  /** The body as it arrives; iterating it to the end or breaking out closes it. */
  body: Readable;
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
 * POSTs JSON over undici's pooled `request()`: keep-alive connections, no
 * web-stream layer (fetch's cost about a millisecond of CPU per streamed
 * call here), and HTTPS_PROXY / HTTP_PROXY / NO_PROXY through
 * EnvHttpProxyAgent. An abort (signal, or ending the body early) destroys
 * the request's socket at once, so the provider sees the client go.
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
    const res = await this.dispatcher.request({ origin, path, method, headers, body, signal });
    return { status: res.statusCode, headers: res.headers, body: res.body };
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
 * Reads a whole body as text, keeping at most `limit` bytes. By its events
 * rather than an async iterator (an async generator and a promise per chunk).
 * @throws the body's error, or `Premature close` when it closes before its end.
 */
export function readText(body: Readable, limit = Infinity): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      if (size < limit) chunks.push(chunk);
      size += chunk.length;
    };
    const onEnd = (): void => {
      done();
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
      resolve(Number.isFinite(limit) ? text.slice(0, limit) : text);
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    // After 'end' this never runs (done() removed it); before it, the body was cut off.
    const onClose = (): void => onError(new Error('Premature close'));
    const done = (): void => {
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    // Destroyed already: its 'error' may still be on its way, with nobody left to tell.
    if (body.destroyed) return reject(body.on('error', () => undefined).errored ?? new Error('Premature close'));
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

export function header(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
