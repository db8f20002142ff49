import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FilesModule } from '../files/files.module';
import { HealthModule } from '../health/health.module';
import { ProvidersModule } from '../providers/providers.module';
import { RoutingModule } from '../routing/routing.module';
import { ChallengeTool } from './builtin/challenge.tool';
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
import { WorkflowEngine } from './workflow/workflow-engine.service';
import { WorkflowStateService } from './workflow/workflow-state.service';
import { WorkflowToolsRegistrar } from './workflow/workflow-tools';

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
    ChallengeTool,
    WorkflowStateService,
    WorkflowEngine,
    WorkflowToolsRegistrar,
  ],
  exports: [ToolRegistryService, LlmCallService],
})
export class ToolsModule {}
