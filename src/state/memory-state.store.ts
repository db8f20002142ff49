import { TtlLru } from '../common/ttl-lru';
import { StateBounds, StateMap, StateMapStats, StateStatus, StateStore } from './state-store';

/** Bytes an entry is charged: its key and value as UTF-8, as Redis counts them. */
export function entryBytes(key: string, value: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(value);
}

/** One map in this daemon's memory. Synchronous inside, so `update` is atomic here. */
export class MemoryStateMap implements StateMap {
  private readonly lru: TtlLru<string, string>;

  constructor(
    private readonly bounds: StateBounds,
    now: () => number = Date.now,
  ) {
    this.lru = new TtlLru<string, string>(bounds.maxEntries, bounds.ttlMs, now, {
      maxBytes: bounds.maxBytes,
      sizeOf: entryBytes,
    });
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.lru.get(key));
  }

  set(key: string, value: string): Promise<boolean> {
    return Promise.resolve(this.put(key, value));
  }

  update(key: string, change: (current: string | undefined) => string | undefined): Promise<void> {
    // One callback reads, changes and writes: nothing can run in between.
    return Promise.resolve().then(() => {
      const next = change(this.lru.get(key));
      if (next === undefined) this.lru.delete(key);
      else this.put(key, next);
    });
  }

  delete(key: string): Promise<void> {
    this.lru.delete(key);
    return Promise.resolve();
  }

  stats(): Promise<StateMapStats> {
    return Promise.resolve({ entries: this.lru.size, bytes: this.lru.bytes });
  }

  private put(key: string, value: string): boolean {
    this.lru.set(key, value);
    return entryBytes(key, value) <= this.bounds.maxBytes;
  }
}

/** State kept by this daemon alone (EXAI_STATE_BACKEND=memory). */
export class MemoryStateStore extends StateStore {
  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  protected open(_name: string, bounds: StateBounds): StateMap {
    return new MemoryStateMap(bounds, this.now);
  }

  status(): StateStatus {
    return { backend: 'memory', available: true, fallback: false };
  }
}
