/** What a token bucket remembers per client; the rate and burst are the bucket's, shared by all. */
export interface BucketState {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, the bucket's clock). */
  tokensAt: number;
}

/**
 * Token bucket: `ratePerSec` tokens a second, bursts up to `burst` tokens. The
 * burst is sized apart from the rate so a host that fires many calls at once
 * (an MCP host starting a batch) is not throttled, while a sustained flood is.
 * One bucket serves every connection; each keeps only its own two numbers.
 */
export class TokenBucket {
  constructor(
    private readonly ratePerSec: number,
    private readonly now: () => number = Date.now,
    private readonly burst: number = ratePerSec,
  ) {}

  /** Makes `state` a full bucket, as a new client gets. */
  fill(state: BucketState): void {
    state.tokens = this.burst;
    state.tokensAt = this.now();
  }

  /** A full bucket's state, for a client that keeps it apart. */
  full(): BucketState {
    const state = { tokens: 0, tokensAt: 0 };
    this.fill(state);
    return state;
  }

  /** Takes one of `state`'s tokens; returns 0 on success, else the seconds until one is available. */
  take(state: BucketState): number {
    const t = this.now();
    state.tokens = Math.min(this.burst, state.tokens + ((t - state.tokensAt) / 1000) * this.ratePerSec);
    state.tokensAt = t;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return 0;
    }
    return (1 - state.tokens) / this.ratePerSec;
  }
}
