/** What one map of the state store may hold. */
export interface StateBounds {
  maxEntries: number;
  /** Keys and values together, in bytes; a value larger than this is not stored. */
  maxBytes: number;
  /** An entry lives this long after its last write; reads do not extend it. */
  ttlMs: number;
}

/**
 * What a map needs when the shared store is unreachable in `closed` mode:
 * `required` state (a conversation, a workflow) refuses the call, a `cache`
 * (replays, results) misses and stores nothing, so the call runs as new.
 */
export type StatePolicy = 'required' | 'cache';

export interface StateMapStats {
  entries: number;
  bytes: number;
}

/**
 * One bounded, expiring string map: least recently used entries go first
 * when a write would pass the entry count or the bytes.
 */
export interface StateMap {
  get(key: string): Promise<string | undefined>;
  /** False when the value alone is over the map's bytes: nothing is stored and the old value is gone. */
  set(key: string, value: string): Promise<boolean>;
  /**
   * Read, change, write as one step, even against other daemons: `change`
   * gets the current value and returns the new one (undefined deletes); it
   * runs again when another writer got in between. What it throws ends the
   * update with nothing written.
   */
  update(key: string, change: (current: string | undefined) => string | undefined): Promise<void>;
  delete(key: string): Promise<void>;
  stats(): Promise<StateMapStats>;
}

/** Health of the store as `/health` and readiness show it. */
export interface StateStatus {
  backend: 'memory' | 'redis';
  /** False when calls needing shared state are refused (Redis unreachable, `closed`). */
  available: boolean;
  /** True while this daemon keeps state in its own memory because Redis is unreachable (`local`). */
  fallback: boolean;
  detail?: string;
}

/**
 * Where conversation threads, workflow state, replays and cached results
 * live: this daemon's memory, or Redis shared by every daemon. A Nest
 * provider token, like ConcurrencyBackend.
 */
export abstract class StateStore {
  private readonly opened = new Map<string, StateMap>();

  /** The map called `name`; opened once, with the bounds and policy of its first caller. */
  map(name: string, bounds: StateBounds, policy: StatePolicy): StateMap {
    let map = this.opened.get(name);
    if (!map) {
      map = this.open(name, bounds, policy);
      this.opened.set(name, map);
    }
    return map;
  }

  /** Entries and bytes of every open map, for `/health`. */
  async stats(): Promise<Record<string, StateMapStats>> {
    const out: Record<string, StateMapStats> = {};
    for (const [name, map] of this.opened) out[name] = await map.stats();
    return out;
  }

  abstract status(): StateStatus;

  protected abstract open(name: string, bounds: StateBounds, policy: StatePolicy): StateMap;
}
