import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { MemoryStateStore } from '../src/state/memory-state.store';
import { RedisStateStore } from '../src/state/redis-state.store';
import type { StateConfig } from '../src/state/state.config';
import { StateUnavailableError } from '../src/state/state.errors';
import type { StateBounds, StatePolicy, StateStore } from '../src/state/state-store';
import { TestRedis } from './support/redis';
import { waitFor } from './support/wait';

const BOUNDS: StateBounds = { maxEntries: 3, maxBytes: 100, ttlMs: 60_000 };

interface Clocked {
  store: StateStore;
  clock: { t: number };
  close(): void;
}

let redis: TestRedis;
let admin: Redis;
const opened: RedisStateStore[] = [];

async function redisStore(
  mode: 'closed' | 'local' = 'closed',
  clock = { t: 1_000_000 },
): Promise<Clocked & { store: RedisStateStore }> {
  const config: StateConfig = { backend: 'redis', redisUrl: redis.url, failureMode: mode };
  const store = new RedisStateStore(config, () => clock.t);
  opened.push(store);
  await store.onModuleInit();
  return { store, clock, close: () => store.onModuleDestroy() };
}

function memoryStore(): Clocked {
  const clock = { t: 1_000_000 };
  return { store: new MemoryStateStore(() => clock.t), clock, close: () => undefined };
}

beforeAll(async () => {
  redis = await TestRedis.start();
  admin = new Redis(redis.url);
  jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
});
beforeEach(() => admin.flushall());
afterEach(() => {
  for (const s of opened.splice(0)) s.onModuleDestroy();
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
  jest.restoreAllMocks();
});

// The same contract, run against both backends: what a daemon sees must not
// depend on where its state lives.
describe.each([
  ['memory', () => Promise.resolve(memoryStore())],
  ['redis', () => redisStore()],
])('state store contract (%s)', (_name, make) => {
  const open = async (policy: StatePolicy = 'required', bounds = BOUNDS) => {
    const s = await make();
    return { ...s, map: s.store.map('m', bounds, policy) };
  };

  it('gets what was set, and nothing for an unknown or deleted key', async () => {
    const { map } = await open();
    expect(await map.set('a', 'one')).toBe(true);
    expect(await map.get('a')).toBe('one');
    expect(await map.get('b')).toBeUndefined();
    await map.delete('a');
    expect(await map.get('a')).toBeUndefined();
    expect(await map.stats()).toEqual({ entries: 0, bytes: 0 });
  });

  it('evicts the least recently used entry past the entry count', async () => {
    const { map } = await open();
    await map.set('a', '1');
    await map.set('b', '2');
    await map.set('c', '3');
    await map.get('a');
    await map.set('d', '4');
    expect(await map.get('b')).toBeUndefined();
    expect(await map.get('a')).toBe('1');
    expect((await map.stats()).entries).toBe(3);
  });

  it('evicts by bytes and never stores a value over the whole budget', async () => {
    const { map } = await open();
    await map.set('a', 'x'.repeat(40));
    await map.set('b', 'x'.repeat(40));
    await map.set('c', 'x'.repeat(40));
    expect(await map.get('a')).toBeUndefined();
    expect((await map.stats()).bytes).toBeLessThanOrEqual(BOUNDS.maxBytes);
    expect(await map.set('huge', 'x'.repeat(200))).toBe(false);
    expect(await map.get('huge')).toBeUndefined();
    expect(await map.get('c')).toBe('x'.repeat(40));
  });

  it('expires an entry one TTL after its last write; reads do not extend it', async () => {
    const { map, clock } = await open();
    await map.set('a', 'v');
    clock.t += 59_000;
    expect(await map.get('a')).toBe('v');
    clock.t += 2_000;
    expect(await map.get('a')).toBeUndefined();
    expect(await map.stats()).toEqual({ entries: 0, bytes: 0 });
  });

  it('update reads and writes in one step; what the change throws writes nothing', async () => {
    const { map } = await open();
    await map.update('n', (cur) => String(Number(cur ?? 0) + 1));
    await Promise.all(Array.from({ length: 10 }, () => map.update('n', (cur) => String(Number(cur ?? 0) + 1))));
    expect(await map.get('n')).toBe('11');
    await expect(
      map.update('n', () => {
        throw new Error('not yours');
      }),
    ).rejects.toThrow('not yours');
    expect(await map.get('n')).toBe('11');
    await map.update('n', () => undefined);
    expect(await map.get('n')).toBeUndefined();
  });
});

describe('Redis state store', () => {
  it('keeps every map under the {exai} hash tag, with a Redis TTL on its keys', async () => {
    const { store } = await redisStore();
    await store.map('threads', BOUNDS, 'required').set('t1', 'hello');
    const keys = (await admin.keys('*')).sort();
    expect(keys).toEqual(['{exai}:state:threads:bytes', '{exai}:state:threads:data', '{exai}:state:threads:lru']);
    for (const k of keys) {
      const ttl = await admin.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(BOUNDS.ttlMs);
    }
  });

  it('two daemons share one map, and concurrent updates from both keep every change', async () => {
    const clock = { t: 1_000_000 };
    const a = (await redisStore('closed', clock)).store.map('shared', { ...BOUNDS, maxBytes: 10_000 }, 'required');
    const b = (await redisStore('closed', clock)).store.map('shared', { ...BOUNDS, maxBytes: 10_000 }, 'required');
    await a.set('k', 'from a');
    expect(await b.get('k')).toBe('from a');
    const append = (who: string) => (cur: string | undefined) => JSON.stringify([...JSON.parse(cur ?? '[]'), who]);
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).update('list', append(`w${i}`))));
    expect((JSON.parse((await a.get('list'))!) as string[]).sort()).toEqual(
      ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'].sort(),
    );
  });

  it('closed: with Redis gone, required state refuses with StateUnavailableError, a cache misses; both work again when it returns', async () => {
    const { store } = await redisStore('closed');
    const required = store.map('req', BOUNDS, 'required');
    const cache = store.map('cache', BOUNDS, 'cache');
    await required.set('a', '1');
    await redis.stop();
    await waitFor(() => !store.status().available, 10_000, 'the store to see Redis gone');
    expect(store.status()).toMatchObject({ backend: 'redis', available: false, fallback: false });
    await expect(required.get('a')).rejects.toBeInstanceOf(StateUnavailableError);
    await expect(required.set('a', '2')).rejects.toBeInstanceOf(StateUnavailableError);
    await expect(required.update('a', () => '3')).rejects.toBeInstanceOf(StateUnavailableError);
    expect(await cache.get('x')).toBeUndefined();
    expect(await cache.set('x', 'v')).toBe(false);
    await redis.launch();
    await waitFor(() => store.status().available, 15_000, 'the store to reconnect');
    // No persistence: Redis came back empty, and nothing was written meanwhile.
    expect(await required.get('a')).toBeUndefined();
    await required.set('a', '4');
    expect(await required.get('a')).toBe('4');
  }, 40_000);

  it('local: with Redis gone, state stays in this daemon’s memory and is still read there after Redis returns, until its next write moves it', async () => {
    const { store } = await redisStore('local');
    const map = store.map('loc', BOUNDS, 'required');
    await redis.stop();
    await waitFor(() => store.status().fallback, 10_000, 'the store to fall back');
    expect(store.status()).toMatchObject({ available: true, fallback: true });
    await map.set('t', 'during the outage');
    await map.update('t', (cur) => `${cur} +1`);
    expect(await map.get('t')).toBe('during the outage +1');
    await redis.launch();
    await waitFor(() => !store.status().fallback, 15_000, 'the store to reconnect');
    expect(await map.get('t')).toBe('during the outage +1');
    await map.update('t', (cur) => `${cur} +2`);
    expect(await admin.hget('{exai}:state:loc:data', 't')).toMatch(/:during the outage \+1 \+2$/);
    expect((await store.fallback.stats()).loc.entries).toBe(0);
  }, 40_000);
});
