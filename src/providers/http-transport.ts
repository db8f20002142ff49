import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface TransportResponse {
  status: number;
  headers: IncomingMessage['headers'];
  /** The body as it arrives; iterating it to the end or breaking out closes it. */
  body: IncomingMessage;
}

/**
 * POSTs JSON with keep-alive sockets. node:http rather than fetch: fetch's web
 * streams cost about a millisecond of CPU per streamed call here, which was
 * most of what the daemon added to a provider call. An abort destroys the
 * socket at once, so the provider sees the client go.
 */
export class HttpTransport {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 256 });

  post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<TransportResponse> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        target,
        {
          method: 'POST',
          agent: secure ? this.https : this.http,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          signal,
        },
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.setNoDelay(true);
      req.once('error', reject);
      req.end(body);
    });
  }

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** Reads a whole body as text, keeping at most `limit` bytes. */
export async function readText(body: AsyncIterable<Buffer>, limit = Infinity): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return Number.isFinite(limit) ? text.slice(0, limit) : text;
}

export function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
