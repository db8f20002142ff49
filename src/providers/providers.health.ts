import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../health/health.decorator';
import type { HealthProbe } from '../health/health-probe';
import { LlmProviderRegistry } from './llm-provider-registry.service';
import { ProviderEndpoints } from './provider-endpoints';

/** Per provider: mode, configured, circuit state, last error. Down when no provider is usable. */
@ExaiHealthIndicator({ key: 'providers', ready: true })
@Injectable()
export class ProvidersHealthIndicator implements HealthProbe {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly registry: LlmProviderRegistry,
    private readonly endpoints: ProviderEndpoints,
  ) {}

  isHealthy(key: string): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    const providers = Object.fromEntries(this.registry.all().map((p) => [p.id, p.status()]));
    const details = { mode: this.endpoints.mode, providers };
    const usable = this.registry.all().some((p) => p.isAvailable());
    return Promise.resolve(
      usable ? session.up(details) : session.down({ ...details, message: 'no provider is usable' }),
    );
  }
}
