/** An optional byte budget: each entry's size as the cache estimates it. */
export interface ByteBudget<K, V> {
  maxBytes: number;
  sizeOf(key: K, value: V): number;
}

/**
 * Bounded map with a per-entry time to live. Least recently used entries are
 * evicted first; expired entries are dropped when touched. With a byte
 * budget it is bounded by bytes as well as entries: inserting evicts the
 * oldest entries until the new one fits, and an entry larger than the whole
 * budget is not stored. The clock is injected so tests need no fake timers.
 */
export class TtlLru<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number; bytes: number }>();
  private totalBytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly budget?: ByteBudget<K, V>,
  ) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.remove(key);
      return undefined;
    }
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    this.remove(key);
    const bytes = this.budget ? this.budget.sizeOf(key, value) : 0;
    if (this.budget && bytes > this.budget.maxBytes) return;
    while (this.entries.size > 0 && this.entries.size >= this.maxEntries) this.evict();
    while (this.budget && this.entries.size > 0 && this.totalBytes + bytes > this.budget.maxBytes) this.evict();
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs, bytes });
    this.totalBytes += bytes;
  }

  delete(key: K): boolean {
    return this.remove(key);
  }

  deleteWhere(predicate: (key: K, value: V) => boolean): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (predicate(k, e.value)) {
        this.remove(k);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes held, as estimated by the budget's `sizeOf` (0 without a budget). */
  get bytes(): number {
    return this.totalBytes;
  }

  private remove(key: K): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
    return true;
  }

  /**
   * Drops the least recently used entry. O(1): sweeping every entry for expired
   * ones on each insert made a full cache cost O(n) per call; expired entries
   * are dropped when touched instead, and the bound holds either way.
   */
  private evict(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.remove(oldest.value);
  }
}
