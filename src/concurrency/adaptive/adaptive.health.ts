import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../../health/health.decorator';
import type { HealthProbe } from '../../health/health-probe';
import { AdaptiveConcurrencyService } from './adaptive-concurrency.service';

/** Each provider's concurrency mode, effective limit, ceiling and the limit's recent history. Never down. */
@ExaiHealthIndicator({ key: 'provider_limits' })
@Injectable()
export class ProviderLimitsHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly limits: AdaptiveConcurrencyService,
  ) {}

  isHealthy(key: string): Promise<HealthIndicatorResult> {
    return Promise.resolve(this.indicator.check(key).up({ providers: this.limits.view() }));
  }
}
