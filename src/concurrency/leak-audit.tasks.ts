import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { MetricsService } from '../metrics/metrics.service';
import { concurrencyConfig } from './concurrency.config';
import { LEAK_AUDIT_JOB } from './concurrency.constants';
import { LeaseReclaimedError } from './concurrency.errors';
import { ConcurrencySnapshotService, ReclaimReason } from './concurrency-snapshot.service';
import type { Lease } from './lease';
import { LeaseLedger } from './lease-ledger.service';

export interface AuditReport {
  at: Date;
  reclaimed: Array<{ leaseId: string; requestId?: string; sessionId?: string; reason: ReclaimReason }>;
  drift: Array<{ key: string; counted: number; actual: number }>;
  /** Permits of other daemons on a shared backend that expired unrefreshed. */
  abandoned?: number;
}

/** A cron expression for "every N seconds" where cron can say it; otherwise undefined. */
export function everySecondsCron(secs: number): string | undefined {
  if (secs < 60 && 60 % secs === 0) return `*/${secs} * * * * *`;
  if (secs % 60 === 0 && 60 % (secs / 60) === 0) return `0 */${secs / 60} * * * *`;
  return undefined;
}

/**
 * Rule 7 of the design: compare the ledger with the live calls, reclaim
 * exactly the leases that leaked, repair count drift. A lease whose call is
 * still running and within its expiry is never touched, and nothing here
 * releases permits to make a counter look full.
 */
@Injectable()
export class LeakAuditTasks implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SemaphoreHealth');
  private running = false;
  private interval: NodeJS.Timeout | undefined;

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly ledger: LeaseLedger,
    private readonly snapshot: ConcurrencySnapshotService,
    private readonly metrics: MetricsService,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const secs = this.config.leakAuditIntervalSecs;
    const expression = everySecondsCron(secs);
    if (expression) {
      const job = CronJob.from({ cronTime: expression, onTick: () => this.handleAudit(), start: true });
      this.scheduler.addCronJob(LEAK_AUDIT_JOB, job);
    } else {
      this.interval = setInterval(() => this.handleAudit(), secs * 1000);
      this.scheduler.addInterval(LEAK_AUDIT_JOB, this.interval);
    }
    // Once at boot, so readiness can tell the audit works before the first tick.
    this.handleAudit();
  }

  onApplicationShutdown(): void {
    if (this.scheduler.doesExist('cron', LEAK_AUDIT_JOB)) this.scheduler.deleteCronJob(LEAK_AUDIT_JOB);
    if (this.scheduler.doesExist('interval', LEAK_AUDIT_JOB)) this.scheduler.deleteInterval(LEAK_AUDIT_JOB);
  }

  handleAudit(): void {
    void this.run();
  }

  /** One audit pass; skipped (undefined) while a previous pass still runs. */
  async run(now = Date.now()): Promise<AuditReport | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const report: AuditReport = { at: new Date(now), reclaimed: [], drift: [] };
      for (const lease of this.ledger.all()) {
        const reason = this.leakReason(lease, now);
        if (reason) this.reclaim(lease, reason, report);
      }
      await this.reclaimStrangers(report);
      const abandoned = await this.ledger.sweepAbandoned();
      if (abandoned > 0) {
        report.abandoned = abandoned;
        for (let i = 0; i < abandoned; i++) this.count('expired');
        this.logger.warn(
          `SEMAPHORE HEALTH: reclaimed ${abandoned} expired permits of daemons that stopped refreshing (crashed?)`,
        );
      }
      for (const repair of await this.ledger.repairDrift()) {
        report.drift.push(repair);
        this.count('drift');
        this.logger.warn(
          `SEMAPHORE HEALTH: reclaimed drift on ${repair.key} (counted ${repair.counted}, held ${repair.actual})`,
        );
      }
      this.snapshot.lastAuditAt = report.at;
      if (report.reclaimed.length === 0 && report.drift.length === 0 && !report.abandoned) await this.logPassed();
      return report;
    } finally {
      this.running = false;
    }
  }

  private leakReason(lease: Lease, now: number): ReclaimReason | undefined {
    if (lease.expiresAt <= now) return 'expired';
    if (lease.isReleased || !lease.holder.isLive()) return 'orphaned';
    return undefined;
  }

  private reclaim(lease: Lease, reason: ReclaimReason, report: AuditReport): void {
    lease.holder.abort(new LeaseReclaimedError(reason));
    this.ledger.forget(lease);
    this.count(reason);
    report.reclaimed.push({ leaseId: lease.id, requestId: lease.requestId, sessionId: lease.sessionId, reason });
    this.logger.warn(
      `SEMAPHORE HEALTH: reclaimed ${reason} lease ${lease.id} (request ${lease.requestId}, session ${lease.sessionId}, held ${Math.round((report.at.getTime() - lease.acquiredAt) / 1000)}s)`,
    );
  }

  /** Backend members that no ledger lease owns: charged permits nobody can release. */
  private async reclaimStrangers(report: AuditReport): Promise<void> {
    const strangers = await this.ledger.strangers();
    if (strangers.length === 0) return;
    for (const [key, id] of await this.ledger.dropStrangers(strangers)) {
      this.count('orphaned');
      report.reclaimed.push({ leaseId: id, reason: 'orphaned' });
      this.logger.warn(`SEMAPHORE HEALTH: reclaimed orphaned permit ${id} on ${key} (no lease owns it)`);
    }
  }

  private count(reason: ReclaimReason): void {
    this.snapshot.reclaimed[reason]++;
    this.metrics.leasesReclaimed.inc({ reason });
  }

  private async logPassed(): Promise<void> {
    const snap = await this.snapshot.snapshot();
    const parts = Object.keys(snap.inFlight)
      .filter((k) => k !== 'session_max')
      .map((k) => `${k} ${snap.inFlight[k]}/${snap.capacity[k]}`);
    this.logger.log(`SEMAPHORE HEALTH: check passed (${parts.join(', ')}, sessions ${snap.activeSessions})`);
  }
}
