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
  /** Where the next eviction looks for the oldest entry (see evict). */
  private oldest: Iterator<K> | undefined;

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
    this.oldest = undefined;
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
   * Drops the least recently used entry in O(1). Sweeping every entry for
   * expired ones on each insert made a full cache cost O(n) per call; expired
   * entries are dropped when touched instead, and the bound holds either way.
   *
   * A new iterator per eviction was O(n) too: it starts at the map's first
   * slot and steps over every slot a delete has emptied since V8 last
   * compacted the table, and a full cache deletes its first entry on every
   * insert (5 µs per insert at 4,000 entries, the replay cache's size). One
   * iterator kept from eviction to eviction resumes where it stopped; every
   * entry before it has been evicted or deleted (get() re-inserts behind it),
   * so the first one it yields is the oldest, and V8 carries it across the
   * table's rehashes.
   */
  private evict(): void {
    let next = this.oldest?.next();
    if (!next || next.done) {
      this.oldest = this.entries.keys();
      next = this.oldest.next();
    }
    if (!next.done) this.remove(next.value);
  }
}
