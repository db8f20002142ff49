/** Token bucket: `ratePerSec` tokens a second, bursts up to one second's worth. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = ratePerSec;
    this.updatedAt = now();
  }

  /** Takes one token; returns 0 on success, else the seconds until one is available. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.ratePerSec, this.tokens + ((t - this.updatedAt) / 1000) * this.ratePerSec);
    this.updatedAt = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.ratePerSec;
  }
}
