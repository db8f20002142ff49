import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { OpenAiExceptionFilter } from './openai-exception.filter';
import { ConcurrencyModule } from '../concurrency/concurrency.module';
import { ProvidersModule } from '../providers/providers.module';
import { ToolsModule } from '../tools/tools.module';
import { ChatCompletionsService } from './chat-completions.service';
import { OpenAiAuthGuard } from './openai-auth.guard';
import { OpenAiController } from './openai.controller';
import { OpenAiModelsService } from './openai-models.service';

/** The OpenAI-compatible HTTP API (`/v1/chat/completions`, `/v1/models`) under the gateway's limits. */
@Module({
  // GatewayAuthService comes from the global GatewayAuthModule.
  imports: [ConcurrencyModule, ProvidersModule, ToolsModule],
  controllers: [OpenAiController],
  providers: [
    ChatCompletionsService,
    OpenAiModelsService,
    OpenAiAuthGuard,
    { provide: APP_FILTER, useClass: OpenAiExceptionFilter },
  ],
})
export class OpenAiModule {}
