import { Logger, Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { MetricsService } from '../metrics/metrics.service';
import { ProvidersModule } from '../providers/providers.module';
import { AdaptiveConcurrencyService } from './adaptive/adaptive-concurrency.service';
import { ProviderLimitsHealthIndicator } from './adaptive/adaptive.health';
import { ProviderCapacity } from './adaptive/provider-capacity';
import { AdmissionService } from './admission.service';
import { ConcurrencyBackend } from './concurrency-backend';
import { ConcurrencyHealthIndicator } from './concurrency.health';
import { ConcurrencySnapshotService } from './concurrency-snapshot.service';
import { LeakAuditHealthIndicator } from './leak-audit.health';
import { LimiterHealthIndicator } from './limiter.health';
import { LeakAuditTasks } from './leak-audit.tasks';
import { LeaseLedger } from './lease-ledger';
import { LeakAudit } from './leak-audit';
import { ConcurrencyCore } from './concurrency.core';
import { systemClock } from '../common/clock';
import { MemoryConcurrencyBackend } from './memory-concurrency.backend';
import { RedisConcurrencyBackend } from './redis/redis-concurrency.backend';
import { concurrencyConfig } from './concurrency.config';
import { ProviderVariablesCheck } from './provider-variables.service';
import type { ConfigType } from '@nestjs/config';

@Module({
  imports: [HealthModule, ProvidersModule],
  providers: [
    {
      provide: ConcurrencyBackend,
      inject: [concurrencyConfig.KEY],
      useFactory: (config: ConfigType<typeof concurrencyConfig>): ConcurrencyBackend =>
        config.backend === 'redis' ? new RedisConcurrencyBackend(config) : new MemoryConcurrencyBackend(),
    },
    {
      provide: LeaseLedger,
      inject: [concurrencyConfig.KEY, ConcurrencyBackend, MetricsService],
      useFactory: (
        config: ConfigType<typeof concurrencyConfig>,
        backend: ConcurrencyBackend,
        metrics: MetricsService,
      ): LeaseLedger => {
        const ledger = new LeaseLedger(backend, config.leaseGraceMs, systemClock, new Logger(LeaseLedger.name));
        ledger.onLost((_lease, full) => metrics.leasesLost.inc({ limit: full.name }));
        return ledger;
      },
    },
    AdmissionService,
    // The core AdmissionService built, for the services that read it.
    { provide: ConcurrencyCore, inject: [AdmissionService], useFactory: (a: AdmissionService) => a.core },
    {
      provide: LeakAudit,
      inject: [LeaseLedger],
      useFactory: (ledger: LeaseLedger): LeakAudit => new LeakAudit(ledger, systemClock, new Logger('SemaphoreHealth')),
    },
    ConcurrencySnapshotService,
    LeakAuditTasks,
    ConcurrencyHealthIndicator,
    LeakAuditHealthIndicator,
    LimiterHealthIndicator,
    AdaptiveConcurrencyService,
    { provide: ProviderCapacity, useExisting: AdaptiveConcurrencyService },
    ProviderLimitsHealthIndicator,
    ProviderVariablesCheck,
  ],
  exports: [
    AdaptiveConcurrencyService,
    AdmissionService,
    ConcurrencyCore,
    LeaseLedger,
    LeakAudit,
    ConcurrencySnapshotService,
    LeakAuditTasks,
  ],
})
export class ConcurrencyModule {}
