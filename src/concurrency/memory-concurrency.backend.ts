import { Injectable } from '@nestjs/common';
import { AdmitResult, ConcurrencyBackend, DriftRepair } from './concurrency-backend';
import type { LimitSlot } from './lease';

const MAX_SPARE_SETS = 16;

/**
 * In-process backend. Member sets are the truth; the counts are what admission
 * reads, kept beside the sets so the audit has something to check them by.
 */
@Injectable()
export class MemoryConcurrencyBackend extends ConcurrencyBackend {
  protected readonly sets = new Map<string, Set<string>>();
  protected readonly counted = new Map<string, number>();
  // Emptied member sets kept for the next admission: an uncontended call
  // would otherwise build and drop one Set per limit key.
  private readonly spareSets: Array<Set<string>> = [];

  tryAdmit(leaseId: string, slots: readonly LimitSlot[]): Promise<AdmitResult> {
    for (const slot of slots) {
      if ((this.counted.get(slot.key) ?? 0) >= slot.capacity) return Promise.resolve({ ok: false, full: slot });
    }
    for (const slot of slots) {
      let set = this.sets.get(slot.key);
      if (!set) {
        set = this.spareSets.pop() ?? new Set();
        this.sets.set(slot.key, set);
      }
      if (set.has(leaseId)) continue;
      set.add(leaseId);
      this.counted.set(slot.key, (this.counted.get(slot.key) ?? 0) + 1);
    }
    return Promise.resolve({ ok: true });
  }

  remove(leaseId: string, keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const set = this.sets.get(key);
      if (!set?.delete(leaseId)) continue;
      const left = (this.counted.get(key) ?? 1) - 1;
      if (set.size === 0) {
        this.sets.delete(key);
        if (this.spareSets.length < MAX_SPARE_SETS) this.spareSets.push(set);
      }
      if (left <= 0) this.counted.delete(key);
      else this.counted.set(key, left);
    }
    return Promise.resolve();
  }

  counts(): Promise<Map<string, number>> {
    return Promise.resolve(new Map(this.counted));
  }

  members(): Promise<Map<string, Set<string>>> {
    return Promise.resolve(new Map([...this.sets].map(([k, v]) => [k, new Set(v)])));
  }

  repairDrift(): Promise<DriftRepair[]> {
    const repairs: DriftRepair[] = [];
    const keys = new Set([...this.sets.keys(), ...this.counted.keys()]);
    for (const key of keys) {
      const actual = this.sets.get(key)?.size ?? 0;
      const counted = this.counted.get(key) ?? 0;
      if (actual === counted) continue;
      repairs.push({ key, counted, actual });
      if (actual === 0) this.counted.delete(key);
      else this.counted.set(key, actual);
    }
    return Promise.resolve(repairs);
  }
}
