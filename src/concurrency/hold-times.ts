const DRAIN_WINDOW_MS = 60_000;
/** Hold times kept for the estimate: the most recent ones within the window. */
const MAX_SAMPLES = 256;
const MAX_RETRY_AFTER_SECS = 300;

/**
 * How long permits were held lately, and from that the `retry_after` a
 * refused call is given. Pure: the caller passes the time.
 */
export class HoldTimes {
  // A ring of the most recent releases (when, and how long the permit was
  // held): noted on every release, so it allocates nothing and never shifts.
  private readonly at = new Float64Array(MAX_SAMPLES);
  private readonly heldMs = new Float64Array(MAX_SAMPLES);
  private first = 0;
  private count = 0;

  note(acquiredAt: number, now: number): void {
    while (this.count > 0 && this.at[this.first] < now - DRAIN_WINDOW_MS) this.dropOldest();
    if (this.count === MAX_SAMPLES) this.dropOldest();
    const slot = (this.first + this.count) % MAX_SAMPLES;
    this.at[slot] = now;
    this.heldMs[slot] = Math.max(0, now - acquiredAt);
    this.count++;
  }

  /**
   * Seconds until `ahead` waiters have gone through a limit of `capacity`
   * permits: a slot frees about every (mean hold / capacity). Never below
   * 1 s, and never above the queue timeout (a retry queues again for at most
   * that long), nor 300 s.
   */
  retryAfter(ahead: number, capacity: number, queueTimeoutMs: number, now: number): number {
    const bound = Math.min(MAX_RETRY_AFTER_SECS, Math.max(1, Math.ceil(queueTimeoutMs / 1000)));
    let recent = 0;
    let heldSum = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.first + i) % MAX_SAMPLES;
      if (this.at[slot] < now - DRAIN_WINDOW_MS) continue;
      recent++;
      heldSum += this.heldMs[slot];
    }
    if (recent === 0) return bound;
    const meanHoldSecs = heldSum / recent / 1000;
    const secs = Math.ceil((Math.max(1, ahead) * meanHoldSecs) / Math.max(1, capacity));
    return Math.min(bound, Math.max(1, secs));
  }

  private dropOldest(): void {
    this.first = (this.first + 1) % MAX_SAMPLES;
    this.count--;
  }
}
