import type { LlmUsage, ProviderUsageSnapshot } from './llm-provider';

/** Latency samples kept per provider for the percentiles: bounded, newest wins. */
const LATENCY_SAMPLES = 512;

/**
 * One provider's calls, errors, recent latencies and token totals, for
 * `/health`, the `health` op and the status page. Prometheus has the same
 * counts as counters; this is the in-process view a page can show at once.
 */
export class ProviderUsage {
  private calls = 0;
  private errors = 0;
  private readonly latencies = new Float64Array(LATENCY_SAMPLES);
  private samples = 0;
  private next = 0;
  private readonly tokens = { prompt: 0, completion: 0, cached: 0, reasoning: 0 };

  /** One finished `complete()`: its duration, and its usage when it succeeded. */
  record(durationMs: number, usage: LlmUsage | undefined): void {
    this.calls++;
    if (!usage) this.errors++;
    this.latencies[this.next] = durationMs;
    this.next = (this.next + 1) % LATENCY_SAMPLES;
    this.samples = Math.min(LATENCY_SAMPLES, this.samples + 1);
    if (usage) {
      this.tokens.prompt += usage.promptTokens;
      this.tokens.completion += usage.completionTokens;
      this.tokens.cached += usage.cachedTokens ?? 0;
      this.tokens.reasoning += usage.reasoningTokens ?? 0;
    }
  }

  snapshot(): ProviderUsageSnapshot {
    const sorted = Array.from(this.latencies.subarray(0, this.samples)).sort((a, b) => a - b);
    return {
      calls: this.calls,
      errors: this.errors,
      errorRate: this.calls === 0 ? 0 : Math.round((this.errors / this.calls) * 1000) / 1000,
      latencyMs: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) },
      tokens: { ...this.tokens },
    };
  }
}

/** Nearest-rank percentile of an ascending list; null when there is none. */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return Math.round(sorted[rank - 1]);
}
