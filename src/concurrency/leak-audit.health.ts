import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import type { HealthProbe } from '../health/health-probe';
import { concurrencyConfig } from './concurrency.config';
import { LeakAudit } from './leak-audit';

/** Slack on top of two audit intervals before a missing audit counts as "not running". */
const AUDIT_SLACK_MS = 5_000;

/** Readiness only: the leak audit has run at boot and keeps running. */
@ExaiHealthIndicator({ key: 'leak_audit', health: false, ready: true })
@Injectable()
export class LeakAuditHealthIndicator implements HealthProbe {
  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly indicator: HealthIndicatorService,
    private readonly audit: LeakAudit,
  ) {}

  isHealthy(key: string, now = Date.now()): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    const last = this.audit.lastAuditAt;
    const maxAgeMs = 2 * this.config.leakAuditIntervalSecs * 1000 + AUDIT_SLACK_MS;
    if (!last) return Promise.resolve(session.down({ message: 'leak audit has not run yet' }));
    const ageMs = now - last.getTime();
    const details = { lastAuditAt: last.toISOString(), age_secs: Math.round(ageMs / 1000) };
    return Promise.resolve(
      ageMs <= maxAgeMs ? session.up(details) : session.down({ ...details, message: 'leak audit is not running' }),
    );
  }
}
