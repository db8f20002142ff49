const DRAIN_WINDOW_MS = 60_000;
/** Hold times kept for the estimate: the most recent ones within the window. */
const MAX_SAMPLES = 256;
const MAX_RETRY_AFTER_SECS = 300;

/**
 * How long permits were held lately, and from that the `retry_after` a
 * refused call is given. Pure: the caller passes the time.
 */
export class HoldTimes {
  /** Recent releases: when, and how long the permit was held. */
  private readonly releases: Array<{ at: number; heldMs: number }> = [];

  note(acquiredAt: number, now: number): void {
    this.releases.push({ at: now, heldMs: Math.max(0, now - acquiredAt) });
    while (
      this.releases.length > MAX_SAMPLES ||
      (this.releases.length > 0 && this.releases[0].at < now - DRAIN_WINDOW_MS)
    )
      this.releases.shift();
  }

  /**
   * Seconds until `ahead` waiters have gone through a limit of `capacity`
   * permits: a slot frees about every (mean hold / capacity). Never below
   * 1 s, and never above the queue timeout (a retry queues again for at most
   * that long), nor 300 s.
   */
  retryAfter(ahead: number, capacity: number, queueTimeoutMs: number, now: number): number {
    const bound = Math.min(MAX_RETRY_AFTER_SECS, Math.max(1, Math.ceil(queueTimeoutMs / 1000)));
    const recent = this.releases.filter((r) => r.at >= now - DRAIN_WINDOW_MS);
    if (recent.length === 0) return bound;
    const meanHoldSecs = recent.reduce((sum, r) => sum + r.heldMs, 0) / recent.length / 1000;
    const secs = Math.ceil((Math.max(1, ahead) * meanHoldSecs) / Math.max(1, capacity));
    return Math.min(bound, Math.max(1, secs));
  }
}
