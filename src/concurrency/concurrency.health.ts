import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import type { HealthProbe } from '../health/health-probe';
import { ConcurrencySnapshotService } from './concurrency-snapshot.service';

@ExaiHealthIndicator({ key: 'concurrency' })
@Injectable()
export class ConcurrencyHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly concurrency: ConcurrencySnapshotService,
  ) {}

  async isHealthy(key: string): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    const snap = await this.concurrency.snapshot();
    return session.up({ ...snap });
  }
}
