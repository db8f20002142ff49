import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { HealthModule } from '../health/health.module';
import { GlmLlmProvider } from './glm/glm.llm-provider';
import { KimiLlmProvider } from './kimi/kimi.llm-provider';
import { LlmProviderRegistry } from './llm-provider-registry.service';
import { ProviderEndpointsService } from './provider-endpoints.service';
import { ProvidersHealthIndicator } from './providers.health';

@Module({
  imports: [DiscoveryModule, HealthModule],
  providers: [ProviderEndpointsService, GlmLlmProvider, KimiLlmProvider, LlmProviderRegistry, ProvidersHealthIndicator],
  exports: [LlmProviderRegistry, ProviderEndpointsService],
})
export class ProvidersModule {}
