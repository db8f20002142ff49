import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ActivityModule } from '../activity/activity.module';
import { FilesModule } from '../files/files.module';
import { HealthModule } from '../health/health.module';
import { ProvidersModule } from '../providers/providers.module';
import { RoutingModule } from '../routing/routing.module';
import { StateModule } from '../state/state.module';
import { ChallengeTool } from './builtin/challenge.tool';
import { ActivityTool } from './builtin/activity.tool';
import { ChatTool } from './builtin/chat.tool';
import { GlmPayloadPreviewTool } from './builtin/glm-payload-preview.tool';
import { GlmUploadFileTool } from './builtin/glm-upload-file.tool';
import { GlmWebSearchTool } from './builtin/glm-web-search.tool';
import { HealthTool } from './builtin/health.tool';
import { KimiChatWithFilesTool } from './builtin/kimi-chat-with-files.tool';
import { KimiChatWithToolsTool } from './builtin/kimi-chat-with-tools.tool';
import { KimiIntentAnalysisTool } from './builtin/kimi-intent-analysis.tool';
import { KimiManageFilesTool } from './builtin/kimi-manage-files.tool';
import { KimiUploadFilesTool } from './builtin/kimi-upload-files.tool';
import { ListModelsTool } from './builtin/listmodels.tool';
import { ProviderCapabilitiesTool } from './builtin/provider-capabilities.tool';
import { SelfCheckTool } from './builtin/self-check.tool';
import { StatusTool } from './builtin/status.tool';
import { ThinkDeepTool } from './builtin/thinkdeep.tool';
import { VersionTool } from './builtin/version.tool';
import { ConversationThreadsService } from './conversation-threads.service';
import { DiagnosticsService } from './diagnostics.service';
import { LlmCallService } from './llm-call.service';
import { ProviderFilesService } from './provider-files.service';
import { ToolRegistryService } from './tool-registry.service';
import { WorkflowEngine } from './workflow/workflow-engine.service';
import { WorkflowStateService } from './workflow/workflow-state.service';
import { WorkflowToolsRegistrar } from './workflow/workflow-tools';

@Module({
  imports: [DiscoveryModule, FilesModule, HealthModule, ProvidersModule, RoutingModule, ActivityModule, StateModule],
  providers: [
    ToolRegistryService,
    LlmCallService,
    ConversationThreadsService,
    DiagnosticsService,
    VersionTool,
    ListModelsTool,
    StatusTool,
    HealthTool,
    ActivityTool,
    ProviderCapabilitiesTool,
    SelfCheckTool,
    ChatTool,
    ThinkDeepTool,
    KimiChatWithToolsTool,
    KimiIntentAnalysisTool,
    GlmWebSearchTool,
    ChallengeTool,
    WorkflowStateService,
    WorkflowEngine,
    WorkflowToolsRegistrar,
    GlmPayloadPreviewTool,
    ProviderFilesService,
    KimiUploadFilesTool,
    KimiChatWithFilesTool,
    KimiManageFilesTool,
    GlmUploadFileTool,
  ],
  exports: [ToolRegistryService, LlmCallService],
})
export class ToolsModule {}
