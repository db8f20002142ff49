/**
 * Bounded map with a per-entry time to live. Least recently used entries are
 * evicted first; expired entries are dropped when touched. The clock is
 * injected so tests need no fake timers.
 */
export class TtlLru<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.evict();
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  deleteWhere(predicate: (key: K, value: V) => boolean): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (predicate(k, e.value)) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Drops the least recently used entry. O(1): sweeping every entry for expired
   * ones on each insert made a full cache cost O(n) per call; expired entries
   * are dropped when touched instead, and the bound holds either way.
   */
  private evict(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
