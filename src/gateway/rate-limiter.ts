/**
 * Token bucket: `ratePerSec` tokens a second, bursts up to `burst` tokens. The
 * burst is sized apart from the rate so a host that fires many calls at once
 * (an MCP host starting a batch) is not throttled, while a sustained flood is.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly now: () => number = Date.now,
    private readonly burst: number = ratePerSec,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes one token; returns 0 on success, else the seconds until one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.updatedAt) / 1000) * this.ratePerSec);
    this.updatedAt = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.ratePerSec;
  }
}
