import { redactProviderIds } from '../src/providers/provider-redaction';
import { CircuitBreaker } from '../src/providers/circuit-breaker';
import { isThinkingCall, selectTimeoutSecs } from '../src/providers/provider-timeouts';
import { UpstreamFailure } from '../src/providers/providers.errors';
import { decideRetry, fullJitterBackoff, MIN_USEFUL_ATTEMPT_MS, retryAfterMs } from '../src/providers/retry-policy';
import { readSse } from '../src/providers/sse.parser';

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

async function collect(stream: ReadableStream<Uint8Array>, idleMs = 1000): Promise<string[]> {
  const out: string[] = [];
  for await (const d of readSse(stream, idleMs, 'TEST')) out.push(d);
  return out;
}

describe('readSse', () => {
  it('splits events on blank lines, across chunk boundaries, with CRLF, comments and no-space data', async () => {
    const events = await collect(
      streamOf(['data: {"a":1}\n\nda', 'ta:{"b":2}\r\n\r\n: comment\n', 'data: x\ndata: y\n\ndata: [DONE]\n\n']),
    );
    expect(events).toEqual(['{"a":1}', '{"b":2}', 'x\ny', '[DONE]']);
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
    expect(isThinkingCall('kimi-k2-thinking', false)).toBe(true);
    expect(isThinkingCall('glm-4.6', true)).toBe(true);
    expect(isThinkingCall('glm-4.6', false)).toBe(false);
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
