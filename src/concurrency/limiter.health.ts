import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import type { HealthProbe } from '../health/health-probe';
import { ConcurrencyBackend } from './concurrency-backend';

/** Readiness only: admission can be decided (Redis reachable, or the local fallback is allowed). */
@ExaiHealthIndicator({ key: 'limiter', health: false, ready: true })
@Injectable()
export class LimiterHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly backend: ConcurrencyBackend,
  ) {}

  isHealthy(key: string): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    return Promise.resolve(
      this.backend.available
        ? session.up()
        : session.down({ message: 'concurrency limiter unavailable (Redis unreachable)' }),
    );
  }
}
