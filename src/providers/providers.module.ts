import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { HealthModule } from '../health/health.module';
import { GlmLlmProvider } from './glm/glm.llm-provider';
import { KimiLlmProvider } from './kimi/kimi.llm-provider';
import { LlmProviderRegistry } from './llm-provider-registry.service';
import { ProviderEndpoints, selectEndpoints, SimulatedEndpointsFactory } from './provider-endpoints';
import { providersConfig } from './providers.config';
import { ProvidersHealthIndicator } from './providers.health';

@Module({
  imports: [DiscoveryModule, HealthModule],
  providers: [
    {
      provide: ProviderEndpoints,
      inject: [providersConfig.KEY, { token: SimulatedEndpointsFactory, optional: true }],
      useFactory: selectEndpoints,
    },
    GlmLlmProvider,
    KimiLlmProvider,
    LlmProviderRegistry,
    ProvidersHealthIndicator,
  ],
  exports: [LlmProviderRegistry, ProviderEndpoints],
})
export class ProvidersModule {}
