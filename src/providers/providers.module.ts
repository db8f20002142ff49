import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LlmProviderRegistry } from './llm-provider-registry.service';

@Module({
  imports: [DiscoveryModule],
  providers: [LlmProviderRegistry],
  exports: [LlmProviderRegistry],
})
export class ProvidersModule {}
