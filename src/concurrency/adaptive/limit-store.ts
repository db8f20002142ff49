import { AdaptiveBounds, AdaptiveTuning, applyStep, initialState, LimitState, LimitStep } from './adaptive-limit';

/**
 * Where each provider's adaptive limit lives. In memory it is this daemon's;
 * in Redis it is one value shared by every daemon, changed atomically, so N
 * daemons do not each grow their own.
 */
export abstract class LimitStore {
  /** The current state, created at `bounds.min` (slow start) when there is none. */
  abstract load(provider: string, bounds: AdaptiveBounds): Promise<LimitState>;

  /** Applies one step atomically and returns the state after it. */
  abstract apply(provider: string, step: LimitStep, bounds: AdaptiveBounds): Promise<LimitState>;

  /** True when other daemons change the value too, so it must be re-read now and then. */
  get shared(): boolean {
    return false;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** This daemon's limits only. */
export class MemoryLimitStore extends LimitStore {
  private readonly states = new Map<string, LimitState>();

  constructor(
    private readonly tuning: AdaptiveTuning,
    private readonly clock: () => number,
  ) {
    super();
  }

  load(provider: string, bounds: AdaptiveBounds): Promise<LimitState> {
    let state = this.states.get(provider);
    if (!state) {
      state = initialState(bounds);
      this.states.set(provider, state);
    }
    return Promise.resolve({ ...state });
  }

  /** Overwrites this daemon's copy with a value read from a shared store. */
  seed(provider: string, state: LimitState): void {
    this.states.set(provider, { ...state });
  }

  async apply(provider: string, step: LimitStep, bounds: AdaptiveBounds): Promise<LimitState> {
    const next = applyStep(await this.load(provider, bounds), step, bounds, this.tuning, this.clock());
    this.states.set(provider, next);
    return { ...next };
  }
}
