import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redactProviderIds } from '../src/providers/provider-redaction';
import { CircuitBreaker } from '../src/providers/circuit-breaker';
import { selectTimeoutSecs } from '../src/providers/provider-timeouts';
import { TestLlmProvider } from './support/test-provider.module';
import { UpstreamFailure } from '../src/providers/providers.errors';
import { decideRetry, fullJitterBackoff, MIN_USEFUL_ATTEMPT_MS, retryAfterMs } from '../src/providers/retry-policy';
import { HttpTransport, MAX_UNREAD_BODY_BYTES, readText, TransportResponse } from '../src/providers/http-transport';
import { consumeSse, SseDecoder } from '../src/providers/sse.parser';
import { waitFor } from './support/wait';

const enc = new TextEncoder();

/** A body cut into chunks at the given byte offsets, so a cut can fall inside a character. */
function bytesCutAt(text: string, cuts: number[]): Uint8Array[] {
  const bytes = enc.encode(text);
  const bounds = [0, ...cuts, bytes.length];
  return bounds.slice(1).map((end, i) => bytes.slice(bounds[i], end));
}

/** Every way of cutting `text` into two chunks at a byte offset. */
function everyCut(text: string): number[] {
  return Array.from({ length: enc.encode(text).length - 1 }, (_, i) => i + 1);
}

/** The events' batches the decoder completes, one per chunk that completes any, then the body's end. */
function batchesOf(chunks: Uint8Array[]): string[][] {
  const decoder = new SseDecoder();
  const batches: string[][] = [];
  for (const chunk of chunks) {
    const events = decoder.push(chunk);
    if (events) batches.push(events);
  }
  const last = decoder.end();
  if (last) batches.push(last);
  return batches;
}

function collect(chunks: Uint8Array[]): string[] {
  return batchesOf(chunks).flat();
}

describe('SseDecoder', () => {
  it('splits events on blank lines, across chunk boundaries, with CRLF, comments and no-space data', () => {
    const parts = ['data: {"a":1}\n\nda', 'ta:{"b":2}\r\n\r\n: comment\n', 'data: x\ndata: y\n\ndata: [DONE]\n\n'];
    expect(collect(parts.map((p) => enc.encode(p)))).toEqual(['{"a":1}', '{"b":2}', 'x\ny', '[DONE]']);
  });

  it('reassembles a multi-byte UTF-8 character cut between chunks, at every byte', () => {
    // 'é' is 2 bytes, '中' 3, '😀' 4: every cut inside any of them must decode to the same text.
    const body = 'data: {"t":"é中😀"}\n\n';
    for (const cut of everyCut(body)) {
      expect({ cut, events: collect(bytesCutAt(body, [cut])) }).toEqual({ cut, events: ['{"t":"é中😀"}'] });
    }
    // One byte per chunk: every character arrives in pieces.
    expect(collect(bytesCutAt(body, everyCut(body)))).toEqual(['{"t":"é中😀"}']);
  });

  it('parses the same events wherever a chunk boundary falls: inside "data:", between CR and LF, in the blank line', () => {
    const body = 'data: one\r\ndata:two\r\n\r\n: note\r\ndata: 3\n\ndata: [DONE]\r\n\r\n';
    const expected = ['one\ntwo', '3', '[DONE]'];
    for (const cut of everyCut(body)) {
      expect({ cut, events: collect(bytesCutAt(body, [cut])) }).toEqual({ cut, events: expected });
    }
    expect(collect(bytesCutAt(body, everyCut(body)))).toEqual(expected);
  });

  it('keeps empty data, drops only one leading space, and ignores other fields', () => {
    const body = 'event: x\nid: 7\ndata:\n\ndata:  two spaces\nretry: 5\n\ndata: a\ndata\n\n';
    expect(collect(bytesCutAt(body, []))).toEqual(['', ' two spaces', 'a']);
  });

  it('yields a final event cut off after CR, and nothing for a body that ends inside a comment', () => {
    expect(collect(bytesCutAt('data: last\r', [8]))).toEqual(['last']);
    expect(collect(bytesCutAt('data: 1\n\n: partial comm', [12]))).toEqual(['1']);
  });

  it('hands over the events each chunk completes as one batch, an event cut by a chunk with the chunk that ends it', () => {
    const parts = ['data: 1\n\ndata: 2\n\nda', 'ta: 3\n\n', ': only a comment\n', 'data: 4'];
    expect(batchesOf(parts.map((p) => enc.encode(p)))).toEqual([['1', '2'], ['3'], ['4']]);
  });
});

/**
 * A loopback server for the transport's tests: each request it gets waits,
 * with its response open, for the test to write (or cut) it.
 */
class BodyServer {
  private readonly server: Server;
  private readonly waiting: Array<(r: { req: IncomingMessage; res: ServerResponse }) => void> = [];
  private readonly arrived: Array<{ req: IncomingMessage; res: ServerResponse }> = [];

  constructor() {
    this.server = createServer((req, res) => {
      req.resume();
      const exchange = { req, res };
      const waiter = this.waiting.shift();
      if (waiter) waiter(exchange);
      else this.arrived.push(exchange);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/chat`;
  }

  /** The next request, its SSE headers sent. */
  async next(): Promise<{ req: IncomingMessage; res: ServerResponse }> {
    const exchange =
      this.arrived.shift() ??
      (await new Promise<{ req: IncomingMessage; res: ServerResponse }>((r) => this.waiting.push(r)));
    exchange.res.writeHead(200, { 'content-type': 'text/event-stream', 'retry-after': '7' });
    exchange.res.flushHeaders();
    return exchange;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('HttpTransport and consumeSse on a real loopback server', () => {
  let server: BodyServer;
  let url: string;
  let transport: HttpTransport;
  beforeEach(async () => {
    server = new BodyServer();
    url = await server.listen();
    transport = new HttpTransport();
  });
  afterEach(async () => {
    transport.destroy();
    await server.close();
  });

  const post = (signal = new AbortController().signal): Promise<TransportResponse> =>
    transport.post(url, { 'content-type': 'application/json' }, '{}', signal);

  /** Resolves when the server side of the exchange sees its socket close. */
  const socketClosed = (req: IncomingMessage): Promise<void> =>
    new Promise((resolve) => (req.socket.destroyed ? resolve() : req.socket.once('close', () => resolve())));

  it('reads a body that arrived whole before anyone read it, and reads a limited one up to its limit', async () => {
    const responding = post();
    const { res } = await server.next();
    res.end('data: 1\n\ndata: [DONE]\n\n');
    const response = await responding;
    expect(response.status).toBe(200);
    expect(response.headers['retry-after']).toBe('7');
    await waitFor(() => response.body.complete, 5000, 'the whole body to arrive');
    expect(await readText(response.body)).toBe('data: 1\n\ndata: [DONE]\n\n');
    expect(() => response.body.read({ data() {}, end() {}, error() {} })).toThrow('read once');

    const limited = post();
    (await server.next()).res.end('0123456789');
    expect(await readText((await limited).body, 4)).toBe('0123');
  });

  it('stops reading the socket once an unread body holds 1 MiB, and hands over all of it once read', async () => {
    const TOTAL = 32 * 1024 * 1024;
    const responding = post();
    const { res } = await server.next();
    const response = await responding;
    let written = 0;
    let finished = false;
    let blockedSince = 0;
    void (async () => {
      const chunk = Buffer.alloc(64 * 1024, 'a');
      while (written < TOTAL) {
        written += chunk.length;
        if (!res.write(chunk)) {
          blockedSince = Date.now();
          await new Promise((resolve) => res.once('drain', resolve));
          blockedSince = 0;
        }
      }
      res.end();
      finished = true;
    })();
    // Held back: the server has waited a full second for the client to take more.
    await waitFor(
      () => finished || (blockedSince > 0 && Date.now() - blockedSince > 1000),
      30_000,
      'the server to finish or be held back',
    );
    expect(finished).toBe(false);
    expect(written).toBeGreaterThanOrEqual(MAX_UNREAD_BODY_BYTES);
    expect((await readText(response.body)).length).toBe(TOTAL);
    expect(finished).toBe(true);
  }, 60_000);

  it('hands over the events of each read, and nothing after the batch whose handler returns true', async () => {
    const response = post();
    const { res } = await server.next();
    res.write('data: 1\n\n');
    const { body } = await response;
    const seen: string[][] = [];
    await consumeSse(body, 5000, 'TEST', (events) => {
      seen.push([...events]);
      if (events[0] === '1') res.write('data: [DONE]\n\ndata: late\n\n');
      return events.includes('[DONE]');
    });
    res.end('data: after\n\n');
    await waitFor(() => body.complete, 5000, 'the rest of the body to arrive');
    expect(seen).toEqual([['1'], ['[DONE]', 'late']]);
  });

  it('fails with a retryable idle failure when the stream goes quiet, and destroying the body closes its socket', async () => {
    const response = post();
    const { req, res } = await server.next();
    res.write('data: 1\n\n');
    const { body } = await response;
    const events: string[] = [];
    const err = await consumeSse(body, 50, 'TEST', (batch) => {
      events.push(...batch);
      return false;
    }).catch((e: unknown) => e);
    expect(events).toEqual(['1']);
    expect(err).toBeInstanceOf(UpstreamFailure);
    expect(err).toMatchObject({ kind: 'idle', retryable: true });
    const closed = socketClosed(req);
    body.destroy(new Error('attempt ended'));
    await closed;
    expect(body.complete).toBe(false);
  });

  it('re-arms the idle limit on every chunk: a stream slower in total than the limit is not a stall', async () => {
    const response = post();
    const { res } = await server.next();
    const { body } = await response;
    const events: string[] = [];
    // Eight gaps of 100 ms: 800 ms in all, against a 400 ms limit that no single gap comes near.
    const writing = (async () => {
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 100));
        res.write(`data: ${i}\n\n`);
      }
      res.end();
    })();
    await consumeSse(body, 400, 'TEST', (batch) => {
      events.push(...batch);
      return false;
    });
    await writing;
    expect(events).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  it("fails with the handler's error, the socket's, or the call's abort, which closes the socket", async () => {
    const thrown = new Error('bad frame');
    const first = post();
    (await server.next()).res.write('data: 1\n\n');
    const handlerFailed = await consumeSse((await first).body, 5000, 'TEST', () => {
      throw thrown;
    }).catch((e: unknown) => e);
    expect(handlerFailed).toBe(thrown);

    // The upstream goes away in the middle of the body.
    const second = post();
    const cut = await server.next();
    cut.res.write('data: 1\n\n');
    const reading = consumeSse((await second).body, 5000, 'TEST', () => false);
    cut.res.socket?.destroy();
    await expect(reading).rejects.toThrow('other side closed');

    // The call is aborted while the body streams: the read fails with its reason and the socket closes.
    const controller = new AbortController();
    const third = post(controller.signal);
    const aborted = await server.next();
    aborted.res.write('data: 1\n\n');
    const abortedReading = consumeSse((await third).body, 5000, 'TEST', () => false);
    const closed = socketClosed(aborted.req);
    controller.abort(new Error('caller went away'));
    await expect(abortedReading).rejects.toThrow('caller went away');
    await closed;

    // A body that failed before it was read hands its error to the reader at once.
    const late = new AbortController();
    const fourth = post(late.signal);
    (await server.next()).res.write('data: 1\n\n');
    const { body } = await fourth;
    late.abort(new Error('aborted before reading'));
    await expect(consumeSse(body, 5000, 'TEST', () => false)).rejects.toThrow('aborted before reading');
  });

  it('rejects with the abort reason when the call is aborted before any answer, or was aborted already', async () => {
    const controller = new AbortController();
    const waiting = post(controller.signal);
    const { req } = await server.next();
    const closed = socketClosed(req);
    controller.abort(new Error('gave up waiting'));
    await expect(waiting).rejects.toThrow('gave up waiting');
    await closed;
    const already = new AbortController();
    already.abort(new Error('never sent'));
    await expect(post(already.signal)).rejects.toThrow('never sent');
  });
});

describe('retry policy', () => {
  it('uses full jitter under an exponential ceiling', () => {
    expect(fullJitterBackoff(0, () => 0.999)).toBeLessThan(500);
    expect(fullJitterBackoff(3, () => 0.999)).toBeLessThan(4000);
    expect(fullJitterBackoff(3, () => 0.999)).toBeGreaterThan(3900);
    expect(fullJitterBackoff(10, () => 0.999)).toBeLessThan(8000);
    expect(fullJitterBackoff(2, () => 0)).toBe(0);
  });

  it('reads Retry-After seconds and dates, then Kimi text', () => {
    expect(retryAfterMs('3', undefined)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), undefined, 4_000)).toBe(6000);
    expect(retryAfterMs(null, 'request reached organization max RPM: 3, please try again after 7 seconds')).toBe(7000);
    expect(retryAfterMs(null, 'please try again after 1 second')).toBe(1000);
    expect(retryAfterMs(null, 'nothing here')).toBeUndefined();
  });

  it('retries only retryable failures, within the count and only if the budget fits the wait', () => {
    expect(decideRetry({ retryable: false, attempt: 0, maxRetries: 2, remainingMs: 60_000 }).retry).toBe(false);
    expect(decideRetry({ retryable: true, attempt: 2, maxRetries: 2, remainingMs: 60_000 }).retry).toBe(false);
    expect(decideRetry({ retryable: true, attempt: 0, maxRetries: 2, remainingMs: 60_000, hintMs: 1000 })).toEqual({
      retry: true,
      waitMs: 1000,
    });
    // Retry-After 60 s with 10 s of budget: no wait at all.
    expect(decideRetry({ retryable: true, attempt: 0, maxRetries: 2, remainingMs: 10_000, hintMs: 60_000 })).toEqual({
      retry: false,
      waitMs: 60_000,
    });
    expect(
      decideRetry({
        retryable: true,
        attempt: 0,
        maxRetries: 2,
        remainingMs: 500 + MIN_USEFUL_ATTEMPT_MS - 1,
        hintMs: 500,
      }).retry,
    ).toBe(false);
  });
});

describe('CircuitBreaker', () => {
  it('opens at the threshold, half-opens after the cooldown for one trial, and closes on success', () => {
    let now = 0;
    const cb = new CircuitBreaker(3, 1000, () => now);
    cb.onRetryableFailure('a');
    cb.onOtherFailure('bad request does not count');
    cb.onRetryableFailure('b');
    expect(cb.state).toBe('closed');
    cb.onRetryableFailure('c');
    expect(cb.state).toBe('open');
    expect(cb.tryPass()).toBe(false);
    expect(cb.retryInMs()).toBe(1000);
    now += 1000;
    expect(cb.state).toBe('half_open');
    expect(cb.tryPass()).toBe(true);
    expect(cb.tryPass()).toBe(false);
    cb.onSuccess();
    expect(cb.state).toBe('closed');
    expect(cb.lastError?.message).toBe('c');
  });

  it('reopens when the half-open trial fails', () => {
    let now = 0;
    const cb = new CircuitBreaker(1, 100, () => now);
    cb.onRetryableFailure('x');
    now += 100;
    expect(cb.tryPass()).toBe(true);
    cb.onRetryableFailure('y');
    expect(cb.state).toBe('open');
  });
});

describe('timeout table', () => {
  const t = { base: 240, webSearch: 300, thinking: 360, webThinking: 420 };
  it.each([
    [false, false, 240],
    [true, false, 300],
    [false, true, 360],
    [true, true, 420],
  ])('web=%s thinking=%s → %ss', (web, thinking, secs) => {
    expect(selectTimeoutSecs(t, { web, thinking })).toBe(secs);
  });

  it('treats a thinking model name or a thinking request as thinking', () => {
    const provider = new TestLlmProvider();
    expect(provider.isThinkingCall('kimi-k2-thinking', false)).toBe(true);
    expect(provider.isThinkingCall('glm-4.6', true)).toBe(true);
    expect(provider.isThinkingCall('glm-4.6', false)).toBe(false);
  });
});

describe('redactProviderIds', () => {
  it('removes account, organisation and key ids and keeps the rest of the message', () => {
    expect(
      redactProviderIds(
        'Your account org-7df2ab…<cak-fc91cd…> request reached organization max RPM: 3, please try again after 1 seconds',
      ),
    ).toBe('Your account [redacted] request reached organization max RPM: 3, please try again after 1 seconds');
    expect(redactProviderIds('Your account cn2k1r9kqq4s2s4bd8ug<ak-eqqhx3ix> is suspended')).toBe(
      'Your account [redacted] is suspended',
    );
    expect(redactProviderIds('You exceeded your current token quota: <org-sim0000000000000000> 0')).toBe(
      'You exceeded your current token quota: <org-[redacted]> 0',
    );
    expect(redactProviderIds('Incorrect API key provided: sk-abc***xyz.')).toBe(
      'Incorrect API key provided: sk-[redacted]',
    );
    expect(redactProviderIds('key 0123456789abcdef.ZYXW rejected', ['0123456789abcdef.ZYXW'])).toBe(
      'key [redacted] rejected',
    );
    expect(redactProviderIds('HTTP 503 engine_overloaded_error: try later')).toBe(
      'HTTP 503 engine_overloaded_error: try later',
    );
  });
});
