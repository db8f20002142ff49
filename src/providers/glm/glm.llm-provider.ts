import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { MetricsService } from '../../metrics/metrics.service';
import type { LlmCallOptions, LlmRequest } from '../llm-provider';
import { Exchange, OpenAiCompatibleLlmProvider, ParsedError } from '../openai-compatible.provider';
import { GLM_MODEL_SPECS } from './glm.models';
import { ProviderEndpoints } from '../provider-endpoints';
import { providersConfig } from '../providers.config';
import { UpstreamFailure } from '../providers.errors';

// docs/providers.md §2.6: concurrency/frequency/overload and server errors are worth a retry.
const RETRYABLE_CODES = new Set(['1302', '1303', '1305', '500', '1234']);

/** Zhipu GLM (Z.ai / BigModel) over its OpenAI-compatible API. */
@Injectable()
export class GlmLlmProvider extends OpenAiCompatibleLlmProvider {
  readonly id = 'GLM';
  protected readonly displayName = 'GLM';

  constructor(
    @Inject(providersConfig.KEY) config: ConfigType<typeof providersConfig>,
    endpoints: ProviderEndpoints,
    metrics: MetricsService,
  ) {
    super(config, config.glm, endpoints, metrics, GlmLlmProvider.name, GLM_MODEL_SPECS);
  }

  /** Thinking exists on the GLM-4.5 series and later only (docs/providers.md §2.2). */
  protected override thinksByName(model: string): boolean {
    return /^glm-(4\.[5-9]|[5-9])/i.test(model);
  }

  /** Z.ai chat-completions fields beyond the common ones (Z.ai API reference, "Chat Completion"). */
  override passthroughFields(): readonly string[] {
    return ['response_format', 'do_sample', 'request_id', 'user_id', 'tool_stream'];
  }

  protected buildBody(request: LlmRequest, stream: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {
      model: request.model,
      messages: this.wireMessages(request.messages),
      stream,
    };
    if (stream) body.stream_options = { include_usage: true };
    if (request.temperature !== undefined) body.temperature = Math.min(1, Math.max(0, request.temperature));
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    if (this.supportsThinking(request.model)) body.thinking = { type: request.thinking ? 'enabled' : 'disabled' };
    const search = request.webSearch
      ? { type: 'web_search', web_search: { enable: true, search_engine: 'search_pro_jina', search_result: true } }
      : undefined;
    return { ...body, ...this.toolFields(request, search) };
  }

  /**
   * GLM's standalone search API (`POST /web_search`): search results without a
   * chat completion. The body is returned as GLM sent it ({raw_text} if not JSON).
   */
  async webSearch(params: Record<string, unknown>, options: LlmCallOptions): Promise<Record<string, unknown>> {
    const res = await this.apiRequest('POST', '/web_search', { json: params }, options);
    try {
      return JSON.parse(res.text) as Record<string, unknown>;
    } catch {
      return { raw_text: res.text };
    }
  }

  protected parseError(status: number, body: unknown): ParsedError {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' || typeof error?.code === 'number' ? String(error.code) : undefined;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
    const retryable =
      code !== undefined ? RETRYABLE_CODES.has(code) || (status >= 500 && code !== '1301') : status >= 500;
    return { code, message, retryable };
  }

  /** `sensitive` and `network_error` arrive as HTTP 200 and are failures all the same. */
  protected override checkFinish(exchange: Exchange): void {
    if (exchange.finishReason === 'sensitive') {
      throw new UpstreamFailure('content blocked by moderation (finish_reason "sensitive")', 'finish', false, {
        provider: this.id,
        status: 200,
        providerCode: 'sensitive',
      });
    }
    if (exchange.finishReason === 'network_error') {
      throw new UpstreamFailure('inference failed (finish_reason "network_error")', 'finish', true, {
        provider: this.id,
        status: 200,
        providerCode: 'network_error',
      });
    }
  }
}
