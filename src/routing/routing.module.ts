import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { ProvidersModule } from '../providers/providers.module';
import { ModelSelectionCache } from './model-selection.cache';
import { ROUTING_CLOCK } from './routing.constants';
import { RoutingHealthIndicator } from './routing.health';
import { RoutingService } from './routing.service';

@Module({
  imports: [HealthModule, ProvidersModule],
  providers: [
    { provide: ROUTING_CLOCK, useValue: () => Date.now() },
    ModelSelectionCache,
    RoutingService,
    RoutingHealthIndicator,
  ],
  exports: [RoutingService, ModelSelectionCache],
})
export class RoutingModule {}
