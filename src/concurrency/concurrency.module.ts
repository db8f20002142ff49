import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { AdmissionService } from './admission.service';
import { ConcurrencyBackend } from './concurrency-backend';
import { ConcurrencyHealthIndicator } from './concurrency.health';
import { ConcurrencySnapshotService } from './concurrency-snapshot.service';
import { LeakAuditHealthIndicator } from './leak-audit.health';
import { LeakAuditTasks } from './leak-audit.tasks';
import { LeaseLedger } from './lease-ledger.service';
import { MemoryConcurrencyBackend } from './memory-concurrency.backend';

@Module({
  imports: [HealthModule],
  providers: [
    MemoryConcurrencyBackend,
    { provide: ConcurrencyBackend, useExisting: MemoryConcurrencyBackend },
    LeaseLedger,
    AdmissionService,
    ConcurrencySnapshotService,
    LeakAuditTasks,
    ConcurrencyHealthIndicator,
    LeakAuditHealthIndicator,
  ],
  exports: [AdmissionService, LeaseLedger, ConcurrencySnapshotService, LeakAuditTasks],
})
export class ConcurrencyModule {}
