import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import type { HealthProbe } from '../health/health-probe';
import { RoutingService } from './routing.service';

@ExaiHealthIndicator({ key: 'routing' })
@Injectable()
export class RoutingHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly routing: RoutingService,
  ) {}

  isHealthy(key: string): Promise<HealthIndicatorResult> {
    return Promise.resolve(this.indicator.check(key).up(this.routing.snapshot()));
  }
}
