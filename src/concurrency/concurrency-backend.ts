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
}
