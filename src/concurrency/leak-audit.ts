import type { Clock } from '../common/clock';
import { LeaseReclaimedError } from './concurrency.errors';
import type { Lease } from './lease';
import type { LeaseLedger } from './lease-ledger';

export type ReclaimReason = 'expired' | 'orphaned' | 'drift';

export interface AuditReport {
  at: Date;
  reclaimed: Array<{ leaseId: string; requestId?: string; sessionId?: string; reason: ReclaimReason }>;
  drift: Array<{ key: string; counted: number; actual: number }>;
  /** Permits of other daemons on a shared backend that expired unrefreshed. */
  abandoned?: number;
}

/** Where the audit tells what it reclaimed (the Nest adapter passes its logger). */
export interface AuditLogger {
  warn(message: string): void;
}

/**
 * Rule 7 of the design: compare the ledger with the live calls, reclaim
 * exactly the leases that leaked, repair count drift. A lease whose call is
 * still running and within its expiry is never touched, and nothing here
 * releases permits to make a counter look full. Owns its counters; the
 * schedule, metrics and the passing log line are LeakAuditTasks'.
 */
export class LeakAudit {
  private readonly counted: Record<ReclaimReason, number> = { expired: 0, orphaned: 0, drift: 0 };
  private last: Date | null = null;
  private running = false;

  constructor(
    private readonly ledger: LeaseLedger,
    private readonly clock: Clock,
    private readonly logger: AuditLogger,
  ) {}

  /** Reclaimed so far, by reason (abandoned permits of other daemons count as expired). */
  get reclaimed(): Record<ReclaimReason, number> {
    return { ...this.counted };
  }

  get lastAuditAt(): Date | null {
    return this.last;
  }

  /** One audit pass; skipped (undefined) while a previous pass still runs. */
  async run(now = this.clock.now()): Promise<AuditReport | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const report: AuditReport = { at: new Date(now), reclaimed: [], drift: [] };
      for (const lease of this.ledger.all()) {
        const reason = leakReason(lease, now);
        if (reason) this.reclaim(lease, reason, report);
      }
      await this.reclaimStrangers(report);
      const abandoned = await this.ledger.backend.sweepAbandoned();
      if (abandoned > 0) {
        report.abandoned = abandoned;
        this.counted.expired += abandoned;
        this.logger.warn(
          `SEMAPHORE HEALTH: reclaimed ${abandoned} expired permits of daemons that stopped refreshing (crashed?)`,
        );
      }
      for (const repair of await this.ledger.backend.repairDrift()) {
        report.drift.push(repair);
        this.counted.drift++;
        this.logger.warn(
          `SEMAPHORE HEALTH: reclaimed drift on ${repair.key} (counted ${repair.counted}, held ${repair.actual})`,
        );
      }
      this.last = report.at;
      return report;
    } finally {
      this.running = false;
    }
  }

  private reclaim(lease: Lease, reason: ReclaimReason, report: AuditReport): void {
    lease.holder.abort(new LeaseReclaimedError(reason));
    this.ledger.remove(lease);
    this.counted[reason]++;
    report.reclaimed.push({ leaseId: lease.id, requestId: lease.requestId, sessionId: lease.sessionId, reason });
    this.logger.warn(
      `SEMAPHORE HEALTH: reclaimed ${reason} lease ${lease.id} (request ${lease.requestId}, session ${lease.sessionId}, held ${Math.round((report.at.getTime() - lease.acquiredAt) / 1000)}s)`,
    );
  }

  /**
   * Backend members that no lease owns: charged permits nobody can release.
   * A candidate must still be there on a second read, so a release that
   * completed while the first read was on its way is not taken for one.
   */
  private async reclaimStrangers(report: AuditReport): Promise<void> {
    const strangers = (members: Map<string, Set<string>>) =>
      [...members].flatMap(([key, ids]) =>
        [...ids].filter((id) => !this.ledger.owns(id)).map((id) => [key, id] as const),
      );
    const candidates = strangers(await this.ledger.backend.members());
    if (candidates.length === 0) return;
    const again = await this.ledger.backend.members();
    for (const [key, id] of candidates) {
      if (!again.get(key)?.has(id) || this.ledger.owns(id)) continue;
      await this.ledger.backend.remove(id, [key]);
      this.counted.orphaned++;
      report.reclaimed.push({ leaseId: id, reason: 'orphaned' });
      this.logger.warn(`SEMAPHORE HEALTH: reclaimed orphaned permit ${id} on ${key} (no lease owns it)`);
    }
  }
}

function leakReason(lease: Lease, now: number): ReclaimReason | undefined {
  if (lease.expiresAt <= now) return 'expired';
  if (lease.isReleased || !lease.holder.isLive()) return 'orphaned';
  return undefined;
}
