import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { HealthModule } from '../health/health.module';
import { ProvidersModule } from '../providers/providers.module';
import { ListModelsTool } from './builtin/listmodels.tool';
import { StatusTool } from './builtin/status.tool';
import { VersionTool } from './builtin/version.tool';
import { ToolRegistryService } from './tool-registry.service';

@Module({
  imports: [DiscoveryModule, HealthModule, ProvidersModule],
  providers: [ToolRegistryService, VersionTool, ListModelsTool, StatusTool],
  exports: [ToolRegistryService],
})
export class ToolsModule {}
