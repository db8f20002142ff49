import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import type { HealthProbe } from '../health/health-probe';
import { StateStore } from './state-store';

/**
 * Where conversations, workflows, replays and cached results live, and
 * whether calls that need them can be served: down (and not ready) only when
 * Redis is unreachable in `closed` mode; up with `fallback: true` in `local`.
 */
@ExaiHealthIndicator({ key: 'state', ready: true })
@Injectable()
export class StateHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly store: StateStore,
  ) {}

  async isHealthy(key: string): Promise<HealthIndicatorResult> {
    const { available, detail, ...status } = this.store.status();
    const details = { ...status, ...(detail ? { message: detail } : {}), maps: await this.store.stats() };
    const session = this.indicator.check(key);
    return available ? session.up(details) : session.down(details);
  }
}
