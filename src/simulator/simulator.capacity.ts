import type { ServerResponse } from 'node:http';
import { SIM_ERRORS, SimHttpError } from './simulator.errors';
import { writeJson } from './simulator.exchange';
import type { SimProvider } from './simulator.types';

/** Path of the admin endpoint that reads and changes capacities at run time. */
export const SIM_CAPACITY_PATH = '/sim/capacity';

const PROVIDERS: readonly SimProvider[] = ['glm', 'kimi'];
/** What an over-capacity answer tells the client to wait, seconds. */
const RETRY_AFTER_SECS = 1;

export interface SimCapacityStats {
  /** Concurrent chat requests served before the next is refused; null = unlimited. */
  capacity: number | null;
  active: number;
  /** Most requests served at once since the last stats reset. */
  peak: number;
  admitted: number;
  rejected: number;
}

export type CapacityDecision = { ok: true; stretch: number; release: () => void } | { ok: false; error: SimHttpError };

/**
 * The account-wide capacity of each simulated provider: beyond N concurrent
 * chat requests (every key together, like a provider's organisation limit)
 * the next is refused at once, GLM with 429 code 1302 and Kimi with 429
 * engine_overloaded_error, both with Retry-After. Below the limit, latency
 * grows as the provider fills, like a queue's as its headroom runs out: a
 * request that arrives as the n-th of C runs slower by 1/(C+1-n) - 1/C, i.e.
 * not at all alone, about 1.3x with two slots left and 1.8x in the last one.
 * That is the signal the gateway's latency brake is built to notice.
 */
export class SimCapacity {
  private readonly capacity: Record<SimProvider, number | null>;
  private readonly stats: Record<SimProvider, Omit<SimCapacityStats, 'capacity'>>;

  constructor(initial: Partial<Record<SimProvider, number>> = {}) {
    this.capacity = { glm: initial.glm ?? null, kimi: initial.kimi ?? null };
    this.stats = {
      glm: { active: 0, peak: 0, admitted: 0, rejected: 0 },
      kimi: { active: 0, peak: 0, admitted: 0, rejected: 0 },
    };
  }

  /** Sets a provider's capacity; null removes the limit. Requests already running are not cut. */
  set(provider: SimProvider, capacity: number | null): void {
    if (capacity !== null && (!Number.isInteger(capacity) || capacity < 1)) {
      throw new RangeError(`capacity must be an integer >= 1 or null, got ${capacity}`);
    }
    this.capacity[provider] = capacity;
  }

  read(provider: SimProvider): SimCapacityStats {
    return { capacity: this.capacity[provider], ...this.stats[provider] };
  }

  /** Zeroes the peak and counters (not the requests in flight). */
  resetStats(): void {
    for (const p of PROVIDERS) {
      const s = this.stats[p];
      Object.assign(s, { peak: s.active, admitted: 0, rejected: 0 });
    }
  }

  admit(provider: SimProvider): CapacityDecision {
    const stats = this.stats[provider];
    const capacity = this.capacity[provider];
    if (capacity !== null && stats.active >= capacity) {
      stats.rejected++;
      return { ok: false, error: overCapacity(provider, capacity) };
    }
    stats.active++;
    stats.admitted++;
    stats.peak = Math.max(stats.peak, stats.active);
    const n = stats.active;
    const stretch = capacity === null ? 1 : 1 + 1 / (capacity + 1 - Math.min(n, capacity)) - 1 / capacity;
    let released = false;
    return {
      ok: true,
      stretch,
      release: () => {
        if (released) return;
        released = true;
        stats.active--;
      },
    };
  }

  /**
   * GET answers every provider's stats; POST `{"glm": 3, "kimi": null, "reset_stats": true}`
   * changes capacities and answers the same. Bad input is a 400, never a crash.
   */
  serveAdmin(method: string, body: unknown, res: ServerResponse): void {
    if (method === 'POST') {
      const problem = this.applyAdmin(body);
      if (problem) return writeJson(res, 400, { error: { message: problem } }, 'application/json');
    } else if (method !== 'GET') {
      return writeJson(res, 405, { error: { message: `${method} not allowed; use GET or POST` } }, 'application/json');
    }
    writeJson(res, 200, Object.fromEntries(PROVIDERS.map((p) => [p, this.read(p)])), 'application/json');
  }

  private applyAdmin(body: unknown): string | undefined {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
    const fields = body as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (key !== 'reset_stats' && !(PROVIDERS as readonly string[]).includes(key)) return `unknown field "${key}"`;
    }
    for (const p of PROVIDERS) {
      const v = fields[p];
      if (v !== undefined && v !== null && !(Number.isInteger(v) && (v as number) >= 1)) {
        return `${p} must be an integer >= 1 or null`;
      }
    }
    for (const p of PROVIDERS) if (fields[p] !== undefined) this.set(p, fields[p] as number | null);
    if (fields.reset_stats === true) this.resetStats();
    return undefined;
  }
}

function overCapacity(provider: SimProvider, capacity: number): SimHttpError {
  const err =
    provider === 'glm'
      ? SIM_ERRORS.glm.rateLimited('concurrency', capacity, RETRY_AFTER_SECS)
      : SIM_ERRORS.kimi.injected('overloaded', RETRY_AFTER_SECS);
  return err.withHeaders({ 'Retry-After': String(RETRY_AFTER_SECS) });
}
