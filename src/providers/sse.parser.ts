import type { ResponseBody } from './http-transport';
import { UpstreamFailure } from './providers.errors';

const CR = 13;
const SPACE = 32;

/**
 * Turns the bytes of a server-sent-events body into the payloads of its
 * `data:` events. Tolerates CRLF, `data:` without a space, comment lines and
 * multi-line data (docs/providers.md §4); an event or a multi-byte character
 * cut by a chunk boundary is completed by the chunk that ends it.
 *
 * Runs once per upstream chunk on every streamed call, so it scans each
 * decoded chunk in place by index: no per-line buffer copies or regexes, and
 * an array only for a chunk that completes an event.
 */
export class SseDecoder {
  // `stream: true` keeps a multi-byte character cut by a chunk boundary until its last byte arrives.
  private readonly decoder = new TextDecoder();
  /** The start of a line that a chunk boundary cut; usually empty. */
  private rest = '';
  /** The event being assembled: its data lines joined by '\n'; undefined before its first. */
  private data: string | undefined;

  /** The events this chunk completes, in order; undefined when it completes none. */
  push(chunk: Uint8Array): string[] | undefined {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    let events: string[] | undefined;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      const end = nl > start && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      if (end === start) {
        if (this.data !== undefined) (events ??= []).push(this.data);
        this.data = undefined;
      } else if (text.startsWith('data:', start)) {
        this.data = appendData(this.data, text, start, end);
      }
      start = nl + 1;
    }
    this.rest = start === 0 ? text : text.slice(start);
    return events;
  }

  /** At the end of the body: the last event when it has no trailing blank line. */
  end(): string[] | undefined {
    const tail = this.rest + this.decoder.decode();
    this.rest = '';
    const end = tail.charCodeAt(tail.length - 1) === CR ? tail.length - 1 : tail.length;
    let data = this.data;
    this.data = undefined;
    if (tail.startsWith('data:')) data = appendData(data, tail, 0, end);
    return data === undefined ? undefined : [data];
  }
}

/**
 * Reads a streamed response body to its end, or until `onEvents` returns
 * true (`[DONE]`), handing it the events of each read as one batch (a whole
 * short answer usually arrives in one read). Fails with a retryable `idle`
 * failure when no byte arrives for `idleMs`, so a stalled stream ends early,
 * and with the body's own error when it fails or is aborted. A throw from
 * `onEvents` fails the read with that error. After the read has settled,
 * whatever the body still delivers is ignored: stopping early leaves the
 * body as it is, and the caller ends its request, which closes the socket
 * only if the response is still incomplete.
 */
export function consumeSse(
  body: ResponseBody,
  idleMs: number,
  provider: string,
  onEvents: (events: string[]) => boolean,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sse = new SseDecoder();
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      if (err === undefined) resolve();
      else reject(err);
    };
    const deliver = (events: string[] | undefined): boolean => {
      try {
        return events !== undefined && onEvents(events);
      } catch (err) {
        finish(err as Error);
        return true;
      }
    };
    const idle = setTimeout(() => {
      const secs = Math.round(idleMs / 1000);
      finish(new UpstreamFailure(`${provider} stream sent nothing for ${secs}s`, 'idle', true, { provider }));
    }, idleMs);
    body.read({
      data(chunk) {
        if (settled) return;
        idle.refresh();
        if (deliver(sse.push(chunk))) finish();
      },
      end() {
        if (settled) return;
        deliver(sse.end());
        finish();
      },
      error: finish,
    });
  });
}

/** The value of the `data:` line text[start, end), one leading space dropped, added to the event's data. */
function appendData(data: string | undefined, text: string, start: number, end: number): string {
  const from = start + 5 < end && text.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5;
  const line = text.slice(from, end);
  return data === undefined ? line : `${data}\n${line}`;
}
