import { redactProviderIds } from '../src/providers/provider-redaction';
import { CircuitBreaker } from '../src/providers/circuit-breaker';
import { selectTimeoutSecs } from '../src/providers/provider-timeouts';
import { TestLlmProvider } from './support/test-provider.module';
import { UpstreamFailure } from '../src/providers/providers.errors';
import { decideRetry, fullJitterBackoff, MIN_USEFUL_ATTEMPT_MS, retryAfterMs } from '../src/providers/retry-policy';
import { consumeSse } from '../src/providers/sse.parser';
import { Readable } from 'node:stream';

function streamOf(parts: string[], gapMs = 0): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i >= parts.length) return controller.close();
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      controller.enqueue(enc.encode(parts[i++]));
    },
  });
}

/** A body cut into chunks at the given byte offsets, so a cut can fall inside a character. */
function bytesCutAt(text: string, cuts: number[]): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const bounds = [0, ...cuts, bytes.length];
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i + 1 < bounds.length; i++) controller.enqueue(bytes.slice(bounds[i], bounds[i + 1]));
      controller.close();
    },
  });
}

/** Every way of cutting `text` into two chunks at a byte offset. */
function everyCut(text: string): number[] {
  return Array.from({ length: new TextEncoder().encode(text).length - 1 }, (_, i) => i + 1);
}

/** The events' batches, as consumeSse hands them over, of a web stream read as a Node one (as undici's bodies are). */
async function batchesOf(stream: ReadableStream<Uint8Array>, idleMs = 1000): Promise<string[][]> {
  const batches: string[][] = [];
  await consumeSse(Readable.fromWeb(stream as never), idleMs, 'TEST', (events) => {
    batches.push([...events]);
    return false;
  });
  return batches;
}

async function collect(stream: ReadableStream<Uint8Array>, idleMs = 1000): Promise<string[]> {
  return (await batchesOf(stream, idleMs)).flat();
}

describe('consumeSse', () => {
  it('splits events on blank lines, across chunk boundaries, with CRLF, comments and no-space data', async () => {
    const events = await collect(
      streamOf(['data: {"a":1}\n\nda', 'ta:{"b":2}\r\n\r\n: comment\n', 'data: x\ndata: y\n\ndata: [DONE]\n\n']),
    );
    expect(events).toEqual(['{"a":1}', '{"b":2}', 'x\ny', '[DONE]']);
  });

  it('reassembles a multi-byte UTF-8 character cut between chunks, at every byte', async () => {
    // 'é' is 2 bytes, '中' 3, '😀' 4: every cut inside any of them must decode to the same text.
    const body = 'data: {"t":"é中😀"}\n\n';
    for (const cut of everyCut(body)) {
      expect({ cut, events: await collect(bytesCutAt(body, [cut])) }).toEqual({ cut, events: ['{"t":"é中😀"}'] });
    }
    // One byte per chunk: every character arrives in pieces.
    const oneByteEach = Array.from({ length: new TextEncoder().encode(body).length - 1 }, (_, i) => i + 1);
    expect(await collect(bytesCutAt(body, oneByteEach))).toEqual(['{"t":"é中😀"}']);
  });

  it('parses the same events wherever a chunk boundary falls: inside "data:", between CR and LF, in the blank line', async () => {
    const body = 'data: one\r\ndata:two\r\n\r\n: note\r\ndata: 3\n\ndata: [DONE]\r\n\r\n';
    const expected = ['one\ntwo', '3', '[DONE]'];
    for (const cut of everyCut(body)) {
      expect({ cut, events: await collect(bytesCutAt(body, [cut])) }).toEqual({ cut, events: expected });
    }
    const oneByteEach = Array.from({ length: body.length - 1 }, (_, i) => i + 1);
    expect(await collect(bytesCutAt(body, oneByteEach))).toEqual(expected);
  });

  it('keeps empty data, drops only one leading space, and ignores other fields', async () => {
    const body = 'event: x\nid: 7\ndata:\n\ndata:  two spaces\nretry: 5\n\ndata: a\ndata\n\n';
    expect(await collect(bytesCutAt(body, []))).toEqual(['', ' two spaces', 'a']);
  });

  it('yields a final event cut off after CR, and nothing for a body that ends inside a comment', async () => {
    expect(await collect(bytesCutAt('data: last\r', [8]))).toEqual(['last']);
    expect(await collect(bytesCutAt('data: 1\n\n: partial comm', [12]))).toEqual(['1']);
  });

  it('hands over the events each read completes as one batch, an event cut by a read with the read that ends it', async () => {
    const batches = await batchesOf(
      streamOf(['data: 1\n\ndata: 2\n\nda', 'ta: 3\n\n', ': only a comment\n', 'data: 4']),
    );
    expect(batches).toEqual([['1', '2'], ['3'], ['4']]);
  });

  it('yields a final event that has no trailing blank line', async () => {
    expect(await collect(streamOf(['data: last']))).toEqual(['last']);
  });

  it('fails with a retryable idle failure when the stream goes quiet', async () => {
    const quiet = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: 1\n\n'));
      },
    });
    const err = await collect(quiet, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamFailure);
    expect(err).toMatchObject({ kind: 'idle', retryable: true });
  });

  it('re-arms the idle limit on every chunk: a stream slower in total than the limit is not a stall', async () => {
    // Eight gaps of 100 ms: 800 ms in all, against a 400 ms limit that no single gap comes near.
    const parts = Array.from({ length: 8 }, (_, i) => `data: ${i}\n\n`);
    expect(await collect(streamOf(parts, 100), 400)).toEqual(parts.map((_, i) => String(i)));
  });

  it('stops at the batch whose handler returns true, and hands over nothing after it', async () => {
    const seen: string[][] = [];
    await consumeSse(
      Readable.fromWeb(streamOf(['data: 1\n\n', 'data: [DONE]\n\ndata: late\n\n', 'data: after\n\n']) as never),
      1000,
      'TEST',
      (events) => {
        seen.push([...events]);
        return events.includes('[DONE]');
      },
    );
    expect(seen).toEqual([['1'], ['[DONE]', 'late']]);
  });

  it("fails with the handler's error, the body's error, or a premature close, and leaves no listener behind", async () => {
    const thrown = new Error('bad frame');
    const body = Readable.from([Buffer.from('data: 1\n\n'), Buffer.from('data: 2\n\n')]);
    const failed = await consumeSse(body, 1000, 'TEST', () => {
      throw thrown;
    }).catch((e: unknown) => e);
    expect(failed).toBe(thrown);
    expect(body.listenerCount('data') + body.listenerCount('end') + body.listenerCount('close')).toBe(0);

    const broken = new Readable({ read() {} });
    const reading = consumeSse(broken, 1000, 'TEST', () => false);
    broken.push('data: 1\n\n');
    broken.destroy(new Error('socket hang up'));
    await expect(reading).rejects.toThrow('socket hang up');

    const cut = new Readable({ read() {} });
    const cutReading = consumeSse(cut, 1000, 'TEST', () => false);
    cut.push('data: 1\n\n');
    cut.destroy();
    await expect(cutReading).rejects.toThrow('Premature close');

    const gone = new Readable({ read() {} });
    gone.destroy(new Error('aborted before reading'));
    await expect(consumeSse(gone, 1000, 'TEST', () => false)).rejects.toThrow('aborted before reading');
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
