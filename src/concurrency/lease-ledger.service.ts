import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { concurrencyConfig } from './concurrency.config';
import { ConcurrencyBackend, AdmitResult } from './concurrency-backend';
import { LeaseLostError } from './concurrency.errors';
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
  /** Ids whose admission or release is on its way to the backend: neither owned nor orphaned yet. */
  private readonly settling = new Set<string>();
  /** One set per running stranger scan, collecting the ids released while it reads the backend. */
  private readonly scans = new Set<Set<string>>();
  private releasesStarted = 0;

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly backend: ConcurrencyBackend,
  ) {
    backend.onLeaseLost((id, full) => this.lost(id, full));
  }

  /** Charges every slot or none; on success the lease is live in the ledger. */
  async tryAcquire(holder: LeaseHolder, slots: readonly LimitSlot[], now = Date.now()): Promise<Lease | AdmitResult> {
    const id = randomUUID();
    this.settling.add(id);
    let result: AdmitResult;
    try {
      result = await this.backend.tryAdmit(id, slots);
    } finally {
      this.settling.delete(id);
    }
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
    this.releasesStarted++;
    this.settling.add(lease.id);
    for (const released of this.scans) released.add(lease.id);
    // Listeners (the admission queue) run once the backend has the slot back,
    // so the waiter they admit sees it free.
    this.backend
      .remove(
        lease.id,
        lease.slots.map((s) => s.key),
      )
      .then(
        () => {
          this.settling.delete(lease.id);
          for (const listener of this.listeners) listener(lease);
        },
        (err: unknown) => {
          this.settling.delete(lease.id);
          this.logger.error({ msg: 'Backend release failed; the audit will repair it', lease_id: lease.id, err });
        },
      );
  }

  /**
   * Backend members that no lease owns: permits nobody can give back. A
   * member whose admission or release is still on its way to the backend, or
   * was released while the members were being read, is not one of them.
   */
  async strangers(): Promise<Array<[string, string]>> {
    const released = new Set<string>();
    this.scans.add(released);
    try {
      const out: Array<[string, string]> = [];
      for (const [key, ids] of await this.backend.members()) {
        for (const id of ids) if (!released.has(id) && !this.owns(id)) out.push([key, id]);
      }
      return out;
    } finally {
      this.scans.delete(released);
    }
  }

  /** Removes backend members that no lease in this ledger owns; returns those it removed. */
  async dropStrangers(ids: Iterable<[string, string]>): Promise<Array<[string, string]>> {
    const dropped: Array<[string, string]> = [];
    for (const [key, id] of ids) {
      if (this.owns(id)) continue;
      await this.backend.remove(id, [key]);
      dropped.push([key, id]);
    }
    return dropped;
  }

  private owns(id: string): boolean {
    return this.leases.has(id) || this.settling.has(id);
  }

  /** The backend lost this permit and could not take it back: the call stops, as on a reclaim. */
  private lost(id: string, full: LimitSlot): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.logger.error(
      `LEASE LOST: permit ${id} (request ${lease.requestId}, session ${lease.sessionId}) vanished from the shared limiter and the ${full.name} limit is full; aborting the call`,
    );
    lease.holder.abort(new LeaseLostError(full.name));
    this.forget(lease);
  }

  /** Counts releases as they start (before the backend has the permit back), for the admission pump. */
  get releaseCount(): number {
    return this.releasesStarted;
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
