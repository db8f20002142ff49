import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FilesModule } from '../files/files.module';
import { HealthModule } from '../health/health.module';
import { ProvidersModule } from '../providers/providers.module';
import { RoutingModule } from '../routing/routing.module';
import { ChatTool } from './builtin/chat.tool';
import { GlmWebSearchTool } from './builtin/glm-web-search.tool';
import { KimiChatWithToolsTool } from './builtin/kimi-chat-with-tools.tool';
import { ListModelsTool } from './builtin/listmodels.tool';
import { ThinkDeepTool } from './builtin/thinkdeep.tool';
import { ConversationThreadsService } from './conversation-threads.service';
import { LlmCallService } from './llm-call.service';
import { StatusTool } from './builtin/status.tool';
import { VersionTool } from './builtin/version.tool';
import { ToolRegistryService } from './tool-registry.service';

@Module({
  imports: [DiscoveryModule, FilesModule, HealthModule, ProvidersModule, RoutingModule],
  providers: [
    ToolRegistryService,
    LlmCallService,
    ConversationThreadsService,
    VersionTool,
    ListModelsTool,
    StatusTool,
    ChatTool,
    ThinkDeepTool,
    KimiChatWithToolsTool,
    GlmWebSearchTool,
  ],
  exports: [ToolRegistryService],
})
export class ToolsModule {}
