import { UpstreamFailure } from './providers.errors';

const CR = 13;
const SPACE = 32;

/**
 * Yields the payloads of the `data:` events of a server-sent-events body, as
 * one batch per read: the events that read completed, in order (an event cut
 * by a read boundary comes with the read that ends it). Tolerates CRLF,
 * `data:` without a space, comment lines and multi-line data
 * (docs/providers.md §4). Fails the attempt with a retryable `idle` failure when
 * no byte arrives for `idleMs`, so a stalled stream ends early.
 *
 * Stopping early (the consumer breaks out at `[DONE]`, or an idle failure)
 * leaves the body as it is: the caller ends its request, which closes the
 * socket only if the response is still incomplete. Destroying the body here
 * would cost a stack-captured AbortError per call, and a pending read (a
 * stall) cannot be cancelled through the iterator anyway.
 *
 * Runs once per upstream chunk on every streamed call, so it scans each
 * decoded chunk in place by index: no per-line buffer copies or regexes, one
 * idle timer for the whole stream, re-armed per read, instead of a timer and
 * two promises per chunk, and one async-generator step per read rather than
 * per event (a whole short answer usually arrives in one read).
 */
export async function* readSse(
  body: AsyncIterable<Uint8Array>,
  idleMs: number,
  provider: string,
): AsyncGenerator<string[]> {
  const reader = body[Symbol.asyncIterator]();
  // `stream: true` keeps a multi-byte character cut by a chunk boundary until its last byte arrives.
  const decoder = new TextDecoder();
  const idle = new IdleWatch(idleMs, provider);
  // The start of a line that a chunk boundary cut; usually empty.
  let rest = '';
  // The event being assembled: its data lines joined by '\n'; undefined before its first.
  let data: string | undefined;
  try {
    for (;;) {
      const chunk = await idle.read(reader);
      if (chunk.done) break;
      const text = rest + decoder.decode(chunk.value, { stream: true });
      const events: string[] = [];
      let start = 0;
      let nl: number;
      while ((nl = text.indexOf('\n', start)) >= 0) {
        const end = nl > start && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        if (end === start) {
          if (data !== undefined) events.push(data);
          data = undefined;
        } else if (text.startsWith('data:', start)) {
          data = appendData(data, text, start, end);
        }
        start = nl + 1;
      }
      rest = start === 0 ? text : text.slice(start);
      if (events.length > 0) yield events;
    }
    const tail = rest + decoder.decode();
    const end = tail.charCodeAt(tail.length - 1) === CR ? tail.length - 1 : tail.length;
    if (tail.startsWith('data:')) data = appendData(data, tail, 0, end);
    if (data !== undefined) yield [data];
  } finally {
    idle.stop();
  }
}

/** The value of the `data:` line text[start, end), one leading space dropped, added to the event's data. */
function appendData(data: string | undefined, text: string, start: number, end: number): string {
  const from = start + 5 < end && text.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5;
  const line = text.slice(from, end);
  return data === undefined ? line : `${data}\n${line}`;
}

/**
 * One timer for a whole stream: armed when a read starts, and failing the
 * stream only if that read is still pending `idleMs` later. Time the consumer
 * spends between reads does not count, as no read is waiting then.
 */
class IdleWatch {
  private reading = false;
  private fail: (err: Error) => void = () => undefined;
  private readonly failed = new Promise<never>((_, reject) => (this.fail = reject));
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly idleMs: number,
    private readonly provider: string,
  ) {
    // Nobody may be racing it at the moment it fails; the next read sees it.
    this.failed.catch(() => undefined);
    this.timer = setTimeout(() => this.expire(), idleMs);
  }

  async read(reader: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
    this.reading = true;
    // A timer that already fired (while no read was pending) is re-activated by refresh().
    this.timer.refresh();
    try {
      return await Promise.race([reader.next(), this.failed]);
    } finally {
      this.reading = false;
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private expire(): void {
    if (!this.reading) return;
    const secs = Math.round(this.idleMs / 1000);
    this.fail(
      new UpstreamFailure(`${this.provider} stream sent nothing for ${secs}s`, 'idle', true, {
        provider: this.provider,
      }),
    );
  }
}
