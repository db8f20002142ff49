import type { RateLimitKind } from './simulator.errors';
import type { SimProvider } from './simulator.types';

export type SimLimits = Partial<Record<SimProvider, { concurrency?: number; rpm?: number }>>;

export type LimitDecision =
  | { ok: true; release: () => void; limit?: number; remaining?: number }
  | { ok: false; kind: RateLimitKind; limit: number; retryAfterSec: number; resetSec: number };

const WINDOW_MS = 60_000;

/** Per-key concurrency cap and sliding 60 s RPM window, like Kimi's tiers (docs/providers.md §3.7). */
export class SimRateLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly recent = new Map<string, number[]>();
  /** Bumped by reset() so slots taken before it cannot release slots taken after it. */
  private generation = 0;

  constructor(
    private readonly limits: SimLimits,
    private readonly clock: () => number,
  ) {}

  reset(): void {
    this.inFlight.clear();
    this.recent.clear();
    this.generation += 1;
  }

  acquire(provider: SimProvider, apiKey: string): LimitDecision {
    const limit = this.limits[provider];
    if (!limit || (limit.concurrency === undefined && limit.rpm === undefined)) return { ok: true, release: () => {} };
    const key = `${provider}\u0000${apiKey}`;
    const now = this.clock();
    const active = this.inFlight.get(key) ?? 0;
    if (limit.concurrency !== undefined && active >= limit.concurrency) {
      return { ok: false, kind: 'concurrency', limit: limit.concurrency, retryAfterSec: 1, resetSec: 1 };
    }
    const times = (this.recent.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
    this.recent.set(key, times);
    if (limit.rpm !== undefined && times.length >= limit.rpm) {
      const wait = Math.max(1, Math.ceil((times[0] + WINDOW_MS - now) / 1000));
      return { ok: false, kind: 'rpm', limit: limit.rpm, retryAfterSec: wait, resetSec: wait };
    }
    times.push(now);
    this.inFlight.set(key, active + 1);
    const generation = this.generation;
    let released = false;
    return {
      ok: true,
      limit: limit.rpm,
      remaining: limit.rpm !== undefined ? limit.rpm - times.length : undefined,
      release: () => {
        if (released || generation !== this.generation) return;
        released = true;
        const n = (this.inFlight.get(key) ?? 1) - 1;
        if (n > 0) this.inFlight.set(key, n);
        else this.inFlight.delete(key);
      },
    };
  }
}
