import { DiscoveryService } from '@nestjs/core';

/**
 * Marks an injectable as a health indicator shown under `key` in `/health`
 * and the `health` op. Feature modules declare their own; the health module
 * finds them through DI discovery, so it depends on none of them.
 */
export const ExaiHealthIndicator = DiscoveryService.createDecorator<HealthIndicatorOptions>();

export interface HealthIndicatorOptions {
  key: string;
  /** Shown in `/health` (default true). */
  health?: boolean;
  /** Also decides `/health/ready` (default false). */
  ready?: boolean;
}
