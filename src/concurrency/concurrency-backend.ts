import type { LimitSlot } from './lease';

export type AdmitResult = { ok: true } | { ok: false; full: LimitSlot };

export interface DriftRepair {
  key: string;
  counted: number;
  actual: number;
}

/**
 * Where permits are counted. All-or-nothing admission across several limit
 * keys is the backend's job, so a shared store (Redis) can do it atomically
 * for several daemons. Async so that such a store fits behind it.
 */
export abstract class ConcurrencyBackend {
  /** Charges `leaseId` to every slot, or to none when any is full. */
  abstract tryAdmit(leaseId: string, slots: readonly LimitSlot[]): Promise<AdmitResult>;

  /** Removes `leaseId` from the given keys; removing an absent member is a no-op. */
  abstract remove(leaseId: string, keys: readonly string[]): Promise<void>;

  /** In-flight count per key, as used for admission. */
  abstract counts(): Promise<Map<string, number>>;

  /** Lease ids charged to each key. */
  abstract members(): Promise<Map<string, Set<string>>>;

  /** Re-derives every count from its member set, returning what was wrong. */
  abstract repairDrift(): Promise<DriftRepair[]>;

  /** Called when another process frees capacity (a shared backend); in-process releases are seen directly. */
  onCapacityFreed(listener: () => void): void {
    void listener;
  }

  /**
   * Called when a held permit vanished from a shared store (it restarted empty)
   * and could not be taken back because `full` has no room: the call must stop.
   */
  onLeaseLost(listener: (leaseId: string, full: LimitSlot) => void): void {
    void listener;
  }

  /** True when admission may have to wait on other processes, so waiters also poll. */
  get distributed(): boolean {
    return false;
  }

  /**
   * Removes permits whose holder stopped refreshing them (a daemon that died
   * on a shared backend) and returns how many. In-process backends have none.
   */
  sweepAbandoned(): Promise<number> {
    return Promise.resolve(0);
  }

  /** For `/health/ready`: whether admission can be decided at all right now. */
  get available(): boolean {
    return true;
  }
}

/** The backend cannot decide admission (Redis unreachable in `closed` mode). */
export class LimiterUnavailableError extends Error {
  constructor(reason: string) {
    super(`Concurrency limiter unavailable (${reason})`);
    this.name = 'LimiterUnavailableError';
  }
}
