import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { concurrencyConfig } from './concurrency.config';
import { ConcurrencyBackend, AdmitResult } from './concurrency-backend';
import { Lease, LeaseHolder, LimitSlot } from './lease';

export type ReleaseListener = (lease: Lease) => void;

/**
 * The single source of truth about who holds a permit: every live lease by id,
 * charged in the backend to each of its limit keys.
 */
@Injectable()
export class LeaseLedger {
  private readonly logger = new Logger(LeaseLedger.name);
  private readonly leases = new Map<string, Lease>();
  private readonly listeners: ReleaseListener[] = [];

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly backend: ConcurrencyBackend,
  ) {}

  /** Charges every slot or none; on success the lease is live in the ledger. */
  async tryAcquire(holder: LeaseHolder, slots: readonly LimitSlot[], now = Date.now()): Promise<Lease | AdmitResult> {
    const id = randomUUID();
    const result = await this.backend.tryAdmit(id, slots);
    if (!result.ok) return result;
    const lease = new Lease(
      id,
      holder,
      slots,
      now,
      now + holder.timeoutMs + this.config.leaseGraceMs,
      (l) => this.release(l),
      this.logger,
    );
    this.leases.set(id, lease);
    return lease;
  }

  /**
   * Called through `Lease.release()` only. Protected in spirit: tests override
   * it to leak a lease on purpose and prove the audit reclaims it.
   */
  release(lease: Lease): void {
    this.forget(lease);
  }

  /** Removes a lease whatever its state; the audit's way to reclaim a leak. */
  forget(lease: Lease): void {
    if (!this.leases.delete(lease.id)) return;
    // Listeners (the admission queue) run once the backend has the slot back,
    // so the waiter they admit sees it free.
    this.backend
      .remove(
        lease.id,
        lease.slots.map((s) => s.key),
      )
      .then(
        () => {
          for (const listener of this.listeners) listener(lease);
        },
        (err: unknown) =>
          this.logger.error({ msg: 'Backend release failed; the audit will repair it', lease_id: lease.id, err }),
      );
  }

  /** Removes backend members that no lease in this ledger owns. */
  async dropStrangers(ids: Iterable<[string, string]>): Promise<number> {
    let n = 0;
    for (const [key, id] of ids) {
      if (this.leases.has(id)) continue;
      await this.backend.remove(id, [key]);
      n++;
    }
    return n;
  }

  onRelease(listener: ReleaseListener): void {
    this.listeners.push(listener);
  }

  all(): Lease[] {
    return [...this.leases.values()];
  }

  get size(): number {
    return this.leases.size;
  }

  get(id: string): Lease | undefined {
    return this.leases.get(id);
  }

  counts(): Promise<Map<string, number>> {
    return this.backend.counts();
  }

  members(): Promise<Map<string, Set<string>>> {
    return this.backend.members();
  }

  repairDrift() {
    return this.backend.repairDrift();
  }

  sweepAbandoned(): Promise<number> {
    return this.backend.sweepAbandoned();
  }
}
