import { Injectable } from '@nestjs/common';
import type { LlmCitation, LlmMessage, LlmProvider } from '../providers/llm-provider';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { isThinkingCall } from '../providers/provider-timeouts';
import { ConversationThreadsService } from './conversation-threads.service';
import type { PreparedCall, ToolContext, ToolResult } from './tool.types';
import { InvalidArgumentsError } from './tools.errors';

export interface LlmCallPlan {
  model: string;
  provider: LlmProvider;
  thinking: boolean;
  web: boolean;
}

export interface LlmCallInput {
  prompt: string;
  systemPrompt?: string;
  temperature?: number;
  continuationId?: string;
}

/**
 * What every LLM tool shares: turning `model` into a provider and a deadline
 * before admission, and running the completion with its conversation thread.
 */
@Injectable()
export class LlmCallService {
  constructor(
    private readonly providers: LlmProviderRegistry,
    private readonly threads: ConversationThreadsService,
  ) {}

  /** The provider serving `model`. @throws InvalidArgumentsError listing the available models. */
  providerFor(model: string): LlmProvider {
    const provider = this.providers.all().find((p) => p.serves(model));
    if (!provider) {
      const available = this.availableModels();
      throw new InvalidArgumentsError(`Unknown model "${model}". Available models: ${available.join(', ')}`, {
        model,
        available_models: available,
      });
    }
    return provider;
  }

  availableModels(): string[] {
    return this.providers
      .all()
      .flatMap((p) => p.modelIds())
      .sort();
  }

  /** Resolves the model (explicit, or `fallback` for auto) and sizes the deadline by request kind. */
  prepare(args: Record<string, unknown>, fallback: string, options: { thinking: boolean; web: boolean }): PreparedCall {
    const requested =
      typeof args.model === 'string' && args.model !== '' && args.model !== 'auto' ? args.model : undefined;
    const model = requested ?? fallback;
    const provider = this.providerFor(model);
    const thinking = isThinkingCall(model, options.thinking);
    const timeoutSecs = provider.timeoutSecs(model, { web: options.web, thinking });
    return { args: { ...args, model }, provider: provider.id, timeoutSecs };
  }

  async run(plan: LlmCallPlan, input: LlmCallInput, ctx: ToolContext): Promise<ToolResult> {
    const history = this.threads.history(input.continuationId);
    const user: LlmMessage = { role: 'user', content: input.prompt };
    const messages: LlmMessage[] = [
      ...(input.systemPrompt ? [{ role: 'system' as const, content: input.systemPrompt }] : []),
      ...history,
      user,
    ];
    ctx.progress(
      `${plan.provider.id} ${plan.model}${plan.thinking ? ' (thinking)' : ''}${plan.web ? ' with web search' : ''}`,
    );
    const result = await plan.provider.complete(
      { model: plan.model, messages, webSearch: plan.web, thinking: plan.thinking, temperature: input.temperature },
      { signal: ctx.signal, deadline: ctx.deadline, onProgress: (m) => ctx.progress(m) },
    );
    const continuationId = this.threads.append(input.continuationId, user, {
      role: 'assistant',
      content: result.content,
    });
    const metadata: Record<string, unknown> = {
      provider: plan.provider.id,
      model: result.model,
      usage: {
        prompt_tokens: result.usage.promptTokens,
        completion_tokens: result.usage.completionTokens,
        total_tokens: result.usage.totalTokens,
        ...(result.usage.cachedTokens !== undefined ? { cached_tokens: result.usage.cachedTokens } : {}),
      },
      finish_reason: result.finishReason,
      attempts: result.attempts,
      thinking: plan.thinking,
      continuation_id: continuationId,
    };
    if (result.reasoning) metadata.reasoning = result.reasoning;
    if (result.webSearch) {
      metadata.web_search = {
        searches: result.webSearch.searches,
        citations: result.webSearch.citations.map(citation),
      };
    }
    return { content: result.content, contentType: 'text', metadata };
  }
}

function citation(c: LlmCitation): Record<string, unknown> {
  return { title: c.title, link: c.link, refer: c.refer, publish_date: c.publishDate };
}
