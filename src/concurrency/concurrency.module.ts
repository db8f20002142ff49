import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
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
import { LeaseLedger } from './lease-ledger.service';
import { MemoryConcurrencyBackend } from './memory-concurrency.backend';
import { RedisConcurrencyBackend } from './redis/redis-concurrency.backend';
import { concurrencyConfig } from './concurrency.config';
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
    LeaseLedger,
    AdmissionService,
    ConcurrencySnapshotService,
    LeakAuditTasks,
    ConcurrencyHealthIndicator,
    LeakAuditHealthIndicator,
    LimiterHealthIndicator,
    AdaptiveConcurrencyService,
    { provide: ProviderCapacity, useExisting: AdaptiveConcurrencyService },
    ProviderLimitsHealthIndicator,
  ],
  exports: [AdaptiveConcurrencyService, AdmissionService, LeaseLedger, ConcurrencySnapshotService, LeakAuditTasks],
})
export class ConcurrencyModule {}
