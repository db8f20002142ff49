import {
  abortError,
  CallCancelledError,
  CallErrorCode,
  CallTimeoutError,
  outcomeOf,
  ShuttingDownError,
} from '../src/common/call.errors';
import { nestsDeeperThan } from '../src/common/json-depth';
import { forLog } from '../src/common/log-text';
import { stableJson } from '../src/common/stable-json';
import { TtlLru } from '../src/common/ttl-lru';
import { humanDuration } from '../src/common/package-info';
import { TokenBucket } from '../src/gateway/rate-limiter';

describe('TtlLru', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000));

  it('expires entries after the TTL', () => {
    const lru = new TtlLru<string, number>(10, 100, clock);
    lru.set('a', 1);
    now += 99;
    expect(lru.get('a')).toBe(1);
    now += 1;
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('evicts the least recently used entry when full', () => {
    const lru = new TtlLru<string, number>(2, 1_000, clock);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  it('keeps live entries when the evicted one had expired anyway', () => {
    const lru = new TtlLru<string, number>(2, 100, clock);
    lru.set('old', 1);
    now += 50;
    lru.set('young', 2);
    now += 60;
    lru.set('new', 3);
    expect(lru.get('young')).toBe(2);
    expect(lru.get('new')).toBe(3);
  });

  it('stores nothing with a zero TTL', () => {
    const lru = new TtlLru<string, number>(2, 0, clock);
    lru.set('a', 1);
    expect(lru.get('a')).toBeUndefined();
  });

  it('deletes by predicate', () => {
    const lru = new TtlLru<string, number>(5, 1_000, clock);
    ['a', 'b', 'c'].forEach((k, i) => lru.set(k, i));
    expect(lru.deleteWhere((_k, v) => v > 0)).toBe(2);
    expect(lru.size).toBe(1);
  });

  // Eviction keeps one iterator from insert to insert: this drives it through
  // reads, deletes, clears and many table rehashes against a plain model.
  it('evicts exactly what a least-recently-used list would, over a long mixed run', () => {
    const max = 64;
    const lru = new TtlLru<number, number>(max, 1_000, clock);
    const model = new Map<number, number>(); // least recently used first
    const touch = (k: number, v: number) => {
      model.delete(k);
      model.set(k, v);
    };
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    for (let step = 0; step < 20_000; step++) {
      const op = random(100);
      const key = random(200);
      if (op < 60) {
        lru.set(key, step);
        touch(key, step);
        if (model.size > max) model.delete(model.keys().next().value as number);
      } else if (op < 90) {
        const expected = model.get(key);
        expect(lru.get(key)).toBe(expected);
        if (expected !== undefined) touch(key, expected);
      } else if (op < 99) {
        lru.delete(key);
        model.delete(key);
      } else {
        lru.clear();
        model.clear();
      }
      expect(lru.size).toBe(model.size);
    }
    for (const [k, v] of model) expect(lru.get(k)).toBe(v);
  });
});

describe('TtlLru with a byte budget', () => {
  const sized = (max: number) =>
    new TtlLru<string, string>(100, 60_000, () => 0, { maxBytes: max, sizeOf: (_k, v) => v.length });

  it('evicts the least recently used entries until a new one fits the bytes', () => {
    const lru = sized(10);
    lru.set('a', 'xxxx');
    lru.set('b', 'xxxx');
    lru.get('a');
    lru.set('c', 'xxxx');
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe('xxxx');
    expect(lru.bytes).toBe(8);
  });

  it('does not store an entry larger than the whole budget, and keeps its count exact on replace and delete', () => {
    const lru = sized(10);
    lru.set('a', 'xxxx');
    lru.set('huge', 'x'.repeat(11));
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.get('a')).toBe('xxxx');
    lru.set('a', 'xx');
    expect(lru.bytes).toBe(2);
    lru.delete('a');
    expect(lru.bytes).toBe(0);
  });
});

describe('nestsDeeperThan', () => {
  it('measures nesting without recursion, at any depth', () => {
    expect(nestsDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [1, { b: [] }] }, 3)).toBe(true);
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, 64)).toBe(true);
    expect(nestsDeeperThan('text', 0)).toBe(false);
  });
});

describe('forLog', () => {
  it('keeps short strings and cuts long ones, saying how long they were', () => {
    expect(forLog('abc')).toBe('abc');
    expect(forLog('x'.repeat(300))).toBe(`${'x'.repeat(200)}…(300 chars)`);
  });
});

describe('TokenBucket', () => {
  it('allows a burst of one second, then asks the caller to wait', () => {
    let now = 0;
    const bucket = new TokenBucket(5, () => now);
    const client = bucket.full();
    for (let i = 0; i < 5; i++) expect(bucket.take(client)).toBe(0);
    expect(bucket.take(client)).toBeCloseTo(0.2, 5);
    now += 200;
    expect(bucket.take(client)).toBe(0);
    expect(bucket.take(client)).toBeGreaterThan(0);
  });

  it('sizes the burst apart from the sustained rate', () => {
    let now = 0;
    const bucket = new TokenBucket(5, () => now, 20);
    const client = bucket.full();
    for (let i = 0; i < 20; i++) expect(bucket.take(client)).toBe(0);
    expect(bucket.take(client)).toBeCloseTo(0.2, 5);
    now += 10_000;
    for (let i = 0; i < 20; i++) expect(bucket.take(client)).toBe(0);
    expect(bucket.take(client)).toBeGreaterThan(0);
  });

  it('keeps each client apart: one that spent its burst leaves another full', () => {
    let now = 0;
    const bucket = new TokenBucket(5, () => now);
    const flooder = bucket.full();
    const quiet = bucket.full();
    for (let i = 0; i < 5; i++) expect(bucket.take(flooder)).toBe(0);
    expect(bucket.take(flooder)).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(bucket.take(quiet)).toBe(0);
    expect(bucket.take(quiet)).toBeGreaterThan(0);
    now += 200;
    expect(bucket.take(flooder)).toBe(0);
  });
});

describe('stableJson', () => {
  it('gives equal strings for objects that differ only in key order', () => {
    expect(stableJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      stableJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(stableJson({ a: [1, 2] })).not.toBe(stableJson({ a: [2, 1] }));
  });
});

describe('humanDuration', () => {
  it('formats days, hours, minutes and seconds', () => {
    expect(humanDuration(0)).toBe('0s');
    expect(humanDuration(3_723_000)).toBe('1h 2m 3s');
    expect(humanDuration(90_061_000)).toBe('1d 1h 1m 1s');
  });
});

describe('abortError', () => {
  it('ends a call with the reason it was aborted with', () => {
    const shutdown = new ShuttingDownError();
    expect(abortError(shutdown)).toBe(shutdown);
    const other = new RangeError('tool gave up');
    expect(abortError(other)).toBe(other);
  });

  it('maps a platform abort to TIMEOUT or CANCELLED', () => {
    expect(abortError(new DOMException('The operation timed out.', 'TimeoutError'))).toBeInstanceOf(CallTimeoutError);
    const bare = new AbortController();
    bare.abort();
    expect(abortError(bare.signal.reason)).toBeInstanceOf(CallCancelledError);
    expect(abortError('a string')).toBeInstanceOf(CallCancelledError);
    expect(abortError(undefined)).toBeInstanceOf(CallCancelledError);
  });

  it('counts an ending under its code, anything untyped as EXEC_ERROR', () => {
    expect(outcomeOf(new CallTimeoutError(3))).toBe(CallErrorCode.TIMEOUT);
    expect(outcomeOf(new Error('boom'))).toBe(CallErrorCode.EXEC_ERROR);
  });
});
