import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { forLog } from '../common/log-text';
import type {
  LlmCitation,
  LlmMessage,
  LlmModelInfo,
  LlmProvider,
  LlmRequest,
  LlmResult,
} from '../providers/llm-provider';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { routingConfig } from '../routing/routing.config';
import { estimateTokens } from '../routing/routing.rules';
import { RoutingService } from '../routing/routing.service';
import { ConversationThreadsService } from './conversation-threads.service';
import type { PreparedCall, ToolContext, ToolResult } from './tool.types';
import { InvalidArgumentsError, UnknownModelError } from './tools.errors';

export interface LlmCallPlan {
  model: string;
  provider: LlmProvider;
  thinking: boolean;
  web: boolean;
}

/** A resolved model with its provider and its deadline budget. */
export interface ModelRoute extends LlmCallPlan {
  timeoutSecs: number;
}

export interface LlmCallInput {
  prompt: string;
  /** Text sent after the prompt this turn (embedded files); the thread keeps only a note naming the files. */
  attachment?: { text: string; files: string[] };
  /** data: or http(s) URLs, for vision models. */
  images?: string[];
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
    private readonly routing: RoutingService,
    @Inject(routingConfig.KEY) private readonly routingSettings: ConfigType<typeof routingConfig>,
  ) {}

  /** The provider serving `model`. @throws UnknownModelError listing the available models. */
  private providerFor(model: string): LlmProvider {
    return this.resolveModel(model).provider;
  }

  /**
   * The canonical model a name means (any case, or an alias) and its provider.
   * @throws UnknownModelError listing the available models.
   */
  resolveModel(model: string): { provider: LlmProvider; model: LlmModelInfo } {
    const found = this.providers.resolveModel(model);
    if (!found) throw new UnknownModelError(forLog(model), this.availableModels());
    return found;
  }

  availableModels(): string[] {
    return this.providers
      .all()
      .flatMap((p) => p.modelIds())
      .sort();
  }

  /**
   * Resolves the model (explicit, or routed for `auto`) and sizes the deadline
   * by request kind. Runs before admission, so the call takes the permit of
   * the provider that will serve it.
   * @throws UnknownContinuationError for a continuation_id that is not the caller's thread.
   * @throws StateUnavailableError when the thread cannot be read or recorded (Redis down, `closed`).
   */
  async prepare(
    tool: string,
    args: Record<string, unknown>,
    options: {
      deep: boolean;
      web: boolean;
      prompt: string;
      sessionId: string;
      /** False when the tool minted the continuation_id itself (workflow threads): no turn may exist yet. */
      threadMustExist?: boolean;
      /** The call carries images: it needs a vision model. */
      vision?: boolean;
      /** The call records its turn in a conversation thread (run()): refused now if it could not. */
      recordsThread?: boolean;
    },
  ): Promise<PreparedCall> {
    // Refused before the model is paid for, not when the answer cannot be recorded.
    if (options.recordsThread) this.threads.assertWritable();
    // Checked even when the model is explicit: another session's thread must
    // fail here, before the result cache, coalescing or admission see the call.
    const history =
      options.threadMustExist === false
        ? await this.threads.historyOrNew(continuationOf(args), options.sessionId)
        : await this.threads.history(continuationOf(args), options.sessionId);
    const historyChars = history.reduce((n, m) => n + m.content.length, 0);
    const promptChars = options.prompt.length + textArg(args.system_prompt).length + historyChars;
    const route = this.route(tool, args.model, { ...options, promptChars });
    return {
      args: { ...args, model: route.model },
      route,
      provider: route.provider.id,
      timeoutSecs: route.timeoutSecs,
    };
  }

  /**
   * `model` as named (explicit) or chosen by the routing rules (omitted or
   * `auto`), with its provider and the budget for the request's kind. Shared
   * by the tools and the OpenAI-compatible API.
   * @throws UnknownModelError when no provider serves an explicit model.
   * @throws InvalidArgumentsError when the prompt cannot fit the model's context window.
   */
  route(
    tool: string,
    requested: unknown,
    options: { deep: boolean; web: boolean; promptChars: number; vision?: boolean },
  ): ModelRoute {
    let model: string;
    let thinking: boolean;
    const promptTokens = estimateTokens(options.promptChars);
    if (isExplicitModel(requested)) {
      // Aliases and other spellings become the canonical id here, before the
      // limit, the result-cache key and the metrics see the call.
      const found = this.resolveModel(requested);
      model = found.model.id;
      thinking = found.provider.isThinkingCall(model, options.deep);
    } else {
      const long = promptTokens > this.routingSettings.glmContextTokens;
      const route = this.routing.resolve({ tool, deep: options.deep, web: options.web, long });
      const found = this.resolveModel(route.model);
      model = found.model.id;
      thinking = found.provider.isThinkingCall(model, route.thinking || options.deep);
    }
    if (options.vision) model = this.visionModel(model, isExplicitModel(requested));
    const provider = this.providerFor(model);
    this.checkContext(provider.id, model, promptTokens);
    const timeoutSecs = provider.timeoutSecs(model, { web: options.web, thinking });
    return { model, provider, thinking, web: options.web, timeoutSecs };
  }

  /**
   * A prompt that cannot fit the model is refused here, before it takes a
   * permit and is sent upstream only to fail. Windows come from the model
   * catalogue, else from the model name when it states one
   * (`moonshot-v1-32k`), else from the provider's configured window;
   * providers added by extensions are not checked.
   */
  private checkContext(providerId: string, model: string, promptTokens: number): void {
    const known = this.resolveModel(model).model;
    const named = /-(\d+)k$/i.exec(model);
    const window =
      known.contextWindow !== undefined && !known.estimated
        ? known.contextWindow
        : named
          ? Number(named[1]) * 1024
          : this.routingSettings.contextTokensByProvider[providerId];
    if (window === undefined || promptTokens <= window) return;
    throw new InvalidArgumentsError(
      `Prompt too long for ${model}: about ${promptTokens} tokens (conversation included) against a context window of ${window}`,
      { model, estimated_prompt_tokens: promptTokens, context_window_tokens: window },
    );
  }

  /**
   * A call with images needs a vision model: an explicit model without vision
   * is refused, a routed one is swapped for a vision model of the same provider
   * (or of any provider when it has none).
   * @throws InvalidArgumentsError naming the vision models.
   */
  private visionModel(model: string, explicit: boolean): string {
    const { provider, model: info } = this.resolveModel(model);
    if (info.vision) return model;
    const vision = this.providers
      .catalogue()
      .filter((e) => e.model.vision && this.providers.get(e.provider)?.isAvailable());
    const names = vision.map((e) => e.model.id);
    if (explicit || vision.length === 0) {
      throw new InvalidArgumentsError(
        `${model} does not accept images. ${names.length > 0 ? `Models with vision: ${names.join(', ')}` : 'No available model has vision'}`,
        { model, vision_models: names },
      );
    }
    return (vision.find((e) => e.provider === provider.id) ?? vision[0]).model.id;
  }

  async run(plan: LlmCallPlan, input: LlmCallInput, ctx: ToolContext): Promise<ToolResult> {
    // prepare() already refused a caller's unknown id; here a thread may be
    // new (minted by a workflow) or evicted since, never another session's.
    const history = await this.threads.historyOrNew(input.continuationId, ctx.sessionId);
    const user: LlmMessage = {
      role: 'user',
      content: input.attachment
        ? `${input.prompt}\n\n[files embedded: ${input.attachment.files.join(', ')}]`
        : input.prompt,
    };
    const sent: LlmMessage = {
      role: 'user',
      content: input.attachment ? `${input.prompt}\n\n${input.attachment.text}` : input.prompt,
      ...(input.images && input.images.length > 0 ? { images: input.images } : {}),
    };
    const messages: LlmMessage[] = [
      ...(input.systemPrompt ? [{ role: 'system' as const, content: input.systemPrompt }] : []),
      ...history,
      sent,
    ];
    const { result, metadata } = await this.complete(plan, messages, { temperature: input.temperature }, ctx);
    // Images and file contents are not kept in the thread, only named: keeping
    // megabytes per turn would fill the thread store's byte budget with copies.
    metadata.continuation_id = await this.threads.append(input.continuationId, ctx.sessionId, user, {
      role: 'assistant',
      content: result.content,
    });
    return { content: result.content, contentType: 'text', metadata };
  }

  /** One completion over `messages`, with the metadata every LLM tool reports. */
  async complete(
    plan: LlmCallPlan,
    messages: LlmMessage[],
    extra: Pick<LlmRequest, 'temperature' | 'tools' | 'toolChoice' | 'maxTokens'>,
    ctx: ToolContext,
  ): Promise<{ result: LlmResult; metadata: Record<string, unknown> }> {
    ctx.progress(
      `${plan.provider.id} ${plan.model}${plan.thinking ? ' (thinking)' : ''}${plan.web ? ' with web search' : ''}`,
    );
    const result = await plan.provider.complete(
      { model: plan.model, messages, webSearch: plan.web, thinking: plan.thinking, ...extra },
      { signal: ctx.signal, deadline: ctx.deadline, onProgress: (m) => ctx.progress(m) },
    );
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
    };
    if (result.reasoning) metadata.reasoning = result.reasoning;
    if (result.toolCalls) metadata.tool_calls = result.toolCalls;
    if (result.webSearch) {
      metadata.web_search = {
        searches: result.webSearch.searches,
        citations: result.webSearch.citations.map(citation),
      };
    }
    return { result, metadata };
  }
}

/**
 * The model route this call's prepare() resolved (LlmCallService.prepare):
 * the tool runs it as planned, so the provider it was admitted for serves it.
 */
export function plannedRoute(ctx: ToolContext): ModelRoute {
  if (!ctx.plan.route) throw new Error('An LLM tool ran without the model route its prepare() resolves');
  return ctx.plan.route;
}

/** A string argument, or '' when absent (schemas already checked the type). */
export function textArg(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The thread a call continues, or undefined for a new one. */
export function continuationOf(args: Record<string, unknown>): string | undefined {
  return typeof args.continuation_id === 'string' && args.continuation_id !== '' ? args.continuation_id : undefined;
}

/** A model the caller named, as opposed to `auto` or nothing. */
export function isExplicitModel(model: unknown): model is string {
  return typeof model === 'string' && model !== '' && model !== 'auto';
}

function citation(c: LlmCitation): Record<string, unknown> {
  return { title: c.title, link: c.link, refer: c.refer, publish_date: c.publishDate };
}
