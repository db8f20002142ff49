import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import { HEALTH_MESSAGES } from '../health/health.constants';
import type { HealthProbe } from '../health/health-probe';
import { ConnectionsService } from './connections.service';
import { CallRegistry } from './call-registry';

@ExaiHealthIndicator({ key: 'gateway', ready: true })
@Injectable()
export class GatewayHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly connections: ConnectionsService,
    private readonly calls: CallRegistry,
  ) {}

  isHealthy(key: string): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    const details = { ...this.connections.stats(), in_flight_calls: this.calls.inFlight };
    if (!this.connections.isAccepting) {
      return Promise.resolve(session.down({ ...details, message: HEALTH_MESSAGES.SHUTTING_DOWN }));
    }
    return Promise.resolve(session.up(details));
  }
}
