/**
 * The adaptive concurrency limit of one provider: AIMD with slow start and a
 * latency brake. Plain TypeScript with an injected clock; the Nest wiring
 * (adaptive-concurrency.service.ts) feeds it samples and applies its steps to
 * a LimitStore (this process, or one shared value in Redis). docs/architecture.md
 * ("Adaptive concurrency") explains the choice.
 */

export interface AdaptiveBounds {
  /** EXAI_<ID>_MIN_INFLIGHT: the floor, and where a fresh limit starts. */
  min: number;
  /** The configured EXAI_WS_<ID>_MAX_INFLIGHT: the ceiling. */
  max: number;
}

export interface AdaptiveTuning {
  /** Multiplicative cut on an overload signal, in (0, 1). */
  backoff: number;
  /** Smoothed latency over its baseline above which growth turns into a gentle decrease. */
  tolerance: number;
}

export type LimitPhase = 'slow_start' | 'avoidance';

/** The shared part of a provider's limit: what every daemon on one Redis agrees on. */
export interface LimitState {
  /** Fractional limit; admission uses its floor. */
  value: number;
  /** When the last multiplicative cut happened (epoch ms), 0 if never. */
  cutAt: number;
  /** When the last latency brake happened (epoch ms), 0 if never. */
  brakeAt: number;
  phase: LimitPhase;
}

/** What one observation asks of the limit. */
export type LimitStep =
  /** An overload answer to an attempt started at `startedAt`. */
  | { kind: 'cut'; startedAt: number; reason: string }
  /** A success while the limit was in use; `inflight` is how many permits were held. */
  | { kind: 'grow'; inflight: number; reason: string }
  /** A success of an attempt started at `startedAt`, but latency says the provider is queueing. */
  | { kind: 'brake'; startedAt: number; reason: string }
  /** A success with latency rising, not yet past the tolerance: no change. */
  | { kind: 'hold'; reason: string };

export function initialState(bounds: AdaptiveBounds): LimitState {
  return { value: bounds.min, cutAt: 0, brakeAt: 0, phase: 'slow_start' };
}

/**
 * The one rule for moving the limit; the Redis Lua script (redis-limit.store.ts)
 * is this function in Lua, and a unit test holds the two to the same answers.
 *
 * - cut: once per congestion event. Answers to attempts started before the
 *   last cut were sent under the old, higher limit, so they do not cut again
 *   (TCP's "one decrease per window").
 * - grow: only while at least half the limit is in use (an idle provider
 *   proves nothing about a higher limit). Slow start adds 1 per success,
 *   doubling per round trip, until the first overload or brake; after that
 *   1/limit per success, about +1 per round trip.
 * - brake: -1, once per round trip like the cut (only attempts started after
 *   the last cut or brake count): latency walks the limit down before the
 *   provider has to refuse anything, without overshooting on the samples
 *   that were already on their way.
 */
export function applyStep(
  state: LimitState,
  step: LimitStep,
  bounds: AdaptiveBounds,
  tuning: AdaptiveTuning,
  now: number,
): LimitState {
  const clamp = (v: number) => Math.min(bounds.max, Math.max(bounds.min, v));
  const value = clamp(state.value);
  switch (step.kind) {
    case 'cut':
      if (step.startedAt <= state.cutAt) return { ...state, value };
      return { ...state, value: clamp(value * tuning.backoff), cutAt: now, phase: 'avoidance' };
    case 'grow':
      if (step.inflight * 2 < Math.floor(value)) return { ...state, value };
      return { ...state, value: clamp(value + (state.phase === 'slow_start' ? 1 : 1 / value)) };
    case 'brake':
      if (step.startedAt <= Math.max(state.cutAt, state.brakeAt)) return { ...state, value, phase: 'avoidance' };
      return { ...state, value: clamp(value - 1), brakeAt: now, phase: 'avoidance' };
    case 'hold':
      return { ...state, value, phase: 'avoidance' };
  }
}

/** The whole permits admission may hand out under `state`. */
export function effectiveLimit(state: LimitState, bounds: AdaptiveBounds): number {
  // The epsilon keeps 5.999999… from 1/x steps adding up to 6 from reading as 5.
  return Math.min(bounds.max, Math.max(bounds.min, Math.floor(state.value + 1e-9)));
}

/** One successful upstream attempt, as the provider saw it. */
export interface SuccessSample {
  startedAt: number;
  /**
   * Time to the first streamed token, ms. Undefined for an answer that was
   * not streamed: its latency is mostly output length, not queueing.
   */
  firstTokenMs?: number;
  /** Baseline family: model and request kind (web search, thinking). */
  family: string;
  /** Permits of this provider held when the answer came. */
  inflight: number;
}

const RATIO_SMOOTHING = 0.2;
const MAX_FAMILIES = 64;

interface Baseline {
  /** Fastest sample of the current and the previous half window (Infinity when none). */
  current: number;
  previous: number;
  since: number;
}

/**
 * Turns samples into steps. Latency is time to first token, compared with a
 * per-family baseline: the fastest first token of the last one to two
 * half-windows (Vegas' minimum RTT, forgotten after a window so that a
 * provider that got slower for good becomes the new normal within a window).
 * Output length does not touch time to first token, and a provider that
 * queues requests shows it there first.
 */
export class LatencyGradient {
  private readonly baselines = new Map<string, Baseline>();
  private smoothed = 1;

  constructor(
    private readonly tuning: AdaptiveTuning & { baselineWindowMs: number },
    private readonly clock: () => number,
  ) {}

  /** Recent latency over its baseline, smoothed; 1 means unloaded. */
  get ratio(): number {
    return this.smoothed;
  }

  get braking(): boolean {
    return this.smoothed > this.tuning.tolerance;
  }

  onSuccess(sample: SuccessSample): LimitStep {
    const fresh =
      sample.firstTokenMs === undefined ? undefined : this.observe(sample.family, Math.max(1, sample.firstTokenMs));
    // The smoothed ratio filters noise but lags: once a brake has worked, the
    // samples after it are fast again while the average is still high. Both
    // must say "slow" to brake again.
    if (this.braking && (fresh === undefined || fresh > this.tuning.tolerance)) {
      return { kind: 'brake', startedAt: sample.startedAt, reason: `latency ${this.smoothed.toFixed(2)}x baseline` };
    }
    // Between half the tolerance and all of it the limit holds: the latency
    // signal lags one round trip, and stepping on every sample in both
    // directions would only swing around the point.
    if (this.smoothed > 1 + (this.tuning.tolerance - 1) / 2) return { kind: 'hold', reason: 'latency rising' };
    return { kind: 'grow', inflight: sample.inflight, reason: 'sustained success' };
  }

  /** Folds one sample in and returns its own ratio to the baseline. */
  private observe(family: string, ms: number): number {
    const now = this.clock();
    const half = this.tuning.baselineWindowMs / 2;
    let b = this.baselines.get(family);
    if (!b) {
      if (this.baselines.size >= MAX_FAMILIES) this.baselines.delete(this.baselines.keys().next().value as string);
      b = { current: Infinity, previous: Infinity, since: now };
      this.baselines.set(family, b);
    }
    if (now - b.since >= half) {
      b.previous = now - b.since >= 2 * half ? Infinity : b.current;
      b.current = Infinity;
      b.since = now;
    }
    b.current = Math.min(b.current, ms);
    const ratio = ms / Math.min(b.current, b.previous);
    this.smoothed += (ratio - this.smoothed) * RATIO_SMOOTHING;
    return ratio;
  }
}
