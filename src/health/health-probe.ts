import type { HealthIndicatorResult } from '@nestjs/terminus';

/** What every class decorated with `@ExaiHealthIndicator` implements. It must not throw. */
export interface HealthProbe {
  isHealthy(key: string): Promise<HealthIndicatorResult>;
}
