import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { MetricsService } from '../../metrics/metrics.service';
import type { LlmMessage, LlmRequest } from '../llm-provider';
import { Exchange, OpenAiCompatibleLlmProvider, ParsedError } from '../openai-compatible.provider';
import { KIMI_MODEL_SPECS } from './kimi.models';
import { ProviderEndpoints } from '../provider-endpoints';
import { providersConfig } from '../providers.config';
import { UpstreamFailure } from '../providers.errors';

const RETRYABLE_TYPES = new Set(['engine_overloaded_error', 'rate_limit_reached_error']);
const WEB_SEARCH = '$web_search';
/** Client policy cap on `$web_search` rounds (docs/providers.md §3.4 step 5). */
const MAX_SEARCH_ROUNDS = 5;

/** Moonshot Kimi over its OpenAI-compatible API, with the `$web_search` round trip done right. */
@Injectable()
export class KimiLlmProvider extends OpenAiCompatibleLlmProvider {
  readonly id = 'KIMI';
  protected readonly displayName = 'Kimi';

  constructor(
    @Inject(providersConfig.KEY) config: ConfigType<typeof providersConfig>,
    endpoints: ProviderEndpoints,
    metrics: MetricsService,
  ) {
    super(config, config.kimi, endpoints, metrics, KimiLlmProvider.name, KIMI_MODEL_SPECS);
  }

  /** The `$web_search` loop is only reliable without streaming (docs/providers.md §3.4). */
  protected override streams(request: LlmRequest): boolean {
    return !request.webSearch && !asksForSearch(request);
  }

  /** Moonshot chat-completions fields beyond the common ones (Moonshot API reference, "Chat Completion"). */
  override passthroughFields(): readonly string[] {
    return ['response_format', 'presence_penalty', 'frequency_penalty', 'partial'];
  }

  protected buildBody(request: LlmRequest, stream: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {
      model: request.model,
      messages: this.wireMessages(request.messages),
      stream,
    };
    if (stream) body.stream_options = { include_usage: true };
    // Thinking models want temperature 1.0 (docs/providers.md §3.2).
    const temperature = this.supportsThinking(request.model) ? 1.0 : request.temperature;
    if (temperature !== undefined) body.temperature = Math.min(1, Math.max(0, temperature));
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    const search =
      request.webSearch && !asksForSearch(request)
        ? { type: 'builtin_function', function: { name: WEB_SEARCH } }
        : undefined;
    return { ...body, ...this.toolFields(request, search) };
  }

  /** Moonshot's content endpoint answers JSON whose `content` is the extracted text. */
  protected override fileText(body: string): string {
    try {
      const parsed = JSON.parse(body) as { content?: unknown };
      if (typeof parsed.content === 'string') return parsed.content;
    } catch {
      // plain text: used as it is
    }
    return body;
  }

  protected parseError(status: number, body: unknown): ParsedError {
    const error = (body as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
    const type = typeof error?.type === 'string' ? error.type : undefined;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
    const retryable = type !== undefined ? RETRYABLE_TYPES.has(type) || status >= 500 : status >= 500;
    return { code: type, message, retryable };
  }

  /**
   * While the model asks for `$web_search`: append its assistant message
   * unchanged, echo each call's arguments back in a `tool` message, and ask
   * again; Kimi runs the search between the two requests.
   */
  protected override async run(
    request: LlmRequest,
    send: (req: LlmRequest) => Promise<Exchange>,
  ): Promise<Exchange & { searches: number }> {
    const messages: LlmMessage[] = [...request.messages];
    let searches = 0;
    for (let round = 0; ; round++) {
      const exchange = await send({ ...request, messages });
      const searchCalls = exchange.toolCalls.filter((c) => c.function.name === WEB_SEARCH);
      // A call to one of the caller's own functions goes back to the caller, who runs it.
      const callerCalls = exchange.toolCalls.length - searchCalls.length;
      if (exchange.finishReason !== 'tool_calls' || searchCalls.length === 0 || callerCalls > 0) {
        return { ...exchange, searches };
      }
      if (round >= MAX_SEARCH_ROUNDS) {
        throw new UpstreamFailure(`model kept searching after ${MAX_SEARCH_ROUNDS} rounds`, 'protocol', false, {
          provider: this.id,
          status: 200,
          providerCode: 'search_loop',
        });
      }
      messages.push(this.assistantMessage(exchange));
      for (const call of searchCalls) {
        messages.push({
          role: 'tool',
          tool_call_id: call.id,
          name: WEB_SEARCH,
          content: echoArguments(call.function.arguments),
        });
        searches++;
      }
    }
  }
}

/** The caller listed `$web_search` among its own tools. */
function asksForSearch(request: LlmRequest): boolean {
  return (request.tools ?? []).some(
    (t) => ((t as { function?: { name?: unknown } } | null)?.function?.name ?? '') === WEB_SEARCH,
  );
}

/** The documented echo: the arguments re-serialised as JSON, i.e. json.dumps(json.loads(arguments)). */
function echoArguments(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args));
  } catch {
    return args;
  }
}
