import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { MetricsService } from '../metrics/metrics.service';
import { concurrencyConfig } from './concurrency.config';
import { LEAK_AUDIT_JOB } from './concurrency.constants';
import { ConcurrencySnapshotService } from './concurrency-snapshot.service';
import { AuditReport, LeakAudit } from './leak-audit';

/** A cron expression for "every N seconds" where cron can say it; otherwise undefined. */
export function everySecondsCron(secs: number): string | undefined {
  if (secs < 60 && 60 % secs === 0) return `*/${secs} * * * * *`;
  if (secs % 60 === 0 && 60 % (secs / 60) === 0) return `0 */${secs / 60} * * * *`;
  return undefined;
}

/**
 * Runs the leak audit (leak-audit.ts) at boot and then every
 * EXAI_LEAK_AUDIT_INTERVAL_SECS: a cron job, or an interval where cron
 * cannot express the period. Counts what it reclaimed in
 * `exai_leases_reclaimed_total{reason}` and logs a passing check.
 */
@Injectable()
export class LeakAuditTasks implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SemaphoreHealth');

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly audit: LeakAudit,
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
      this.scheduler.addInterval(
        LEAK_AUDIT_JOB,
        setInterval(() => this.handleAudit(), secs * 1000),
      );
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
  async run(now?: number): Promise<AuditReport | undefined> {
    const report = await this.audit.run(now);
    if (!report) return undefined;
    const { leasesReclaimed } = this.metrics;
    for (const { reason } of report.reclaimed) leasesReclaimed.inc({ reason });
    if (report.abandoned) leasesReclaimed.inc({ reason: 'expired' }, report.abandoned);
    if (report.drift.length > 0) leasesReclaimed.inc({ reason: 'drift' }, report.drift.length);
    if (report.reclaimed.length === 0 && report.drift.length === 0 && !report.abandoned) await this.logPassed();
    return report;
  }

  private async logPassed(): Promise<void> {
    const snap = await this.snapshot.snapshot();
    const parts = Object.keys(snap.inFlight)
      .filter((k) => k !== 'session_max')
      .map((k) => `${k} ${snap.inFlight[k]}/${snap.capacity[k]}`);
    this.logger.log(`SEMAPHORE HEALTH: check passed (${parts.join(', ')}, sessions ${snap.activeSessions})`);
  }
}
