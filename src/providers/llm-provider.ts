import type { CircuitState } from './circuit-breaker';
import type { TimeoutKind } from './provider-timeouts';

export interface LlmModelInfo {
  id: string;
  contextWindow?: number;
  /** Most output tokens one call may produce. */
  maxOutput?: number;
  thinking?: boolean;
  /** Accepts images in user messages. */
  vision?: boolean;
  /** Accepts function tools. */
  tools?: boolean;
  /** Other names clients use for this model; they resolve to `id`. */
  aliases?: readonly string[];
  /** True when the limits are a generic guess for a model the catalogue does not know. */
  estimated?: boolean;
}

export interface LlmToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

export interface LlmMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Images sent with a user message (data: or http(s) URLs); only vision models take them. */
  images?: string[];
  name?: string;
  tool_call_id?: string;
  tool_calls?: LlmToolCall[];
  reasoning_content?: string;
}

export interface LlmRequest {
  model: string;
  messages: LlmMessage[];
  temperature?: number;
  maxTokens?: number;
  /** Provider-side web search (GLM `web_search` tool, Kimi `$web_search`). */
  webSearch?: boolean;
  /** Ask for thinking mode on models that support it. */
  thinking?: boolean;
  /** Caller-defined tools and the choice among them, sent to the API as given (OpenAI shape). */
  tools?: unknown[];
  toolChoice?: unknown;
  stop?: string | string[];
  topP?: number;
  /** Further body fields, sent only when the provider lists them in `passthroughFields()`. */
  extra?: Record<string, unknown>;
}

/** A piece of a streamed answer, as the upstream sent it. */
export interface LlmDelta {
  content?: string;
  reasoning?: string;
  /** OpenAI tool-call deltas (`index`, `id`, `type`, `function.name`, `function.arguments` fragments). */
  toolCalls?: unknown[];
}

export interface LlmCallOptions {
  signal: AbortSignal;
  /** Epoch ms: the whole call's budget, every attempt included. */
  deadline: number;
  onProgress?: (message: string) => void;
  /**
   * Receives the answer as it streams. Once a delta has been delivered the
   * call is no longer retried: the caller has already shown that output.
   */
  onDelta?: (delta: LlmDelta) => void;
  /**
   * False when the caller wants the whole answer at once and no deltas: the
   * upstream is then asked for one JSON body instead of a stream. That skips
   * the per-chunk work, but also the stream's idle-stall watch (the call's
   * deadline still holds) and the time-to-first-token sample. Default: stream.
   */
  stream?: boolean;
}

export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}

export interface LlmCitation {
  title?: string;
  link?: string;
  refer?: string;
  content?: string;
  publishDate?: string;
}

export interface LlmResult {
  content: string;
  reasoning?: string;
  model: string;
  usage: LlmUsage;
  finishReason: string;
  toolCalls?: LlmToolCall[];
  webSearch?: { citations: LlmCitation[]; searches: number };
  /** Upstream attempts this result took (1 = no retry). */
  attempts: number;
}

export interface LlmProviderStatus {
  id: string;
  mode: 'real' | 'simulated' | 'unconfigured';
  configured: boolean;
  circuit: CircuitState;
  lastError?: { message: string; at: string };
  /** Calls, errors, latency percentiles and token totals since start. */
  usage?: ProviderUsageSnapshot;
}

export interface ProviderUsageSnapshot {
  calls: number;
  errors: number;
  errorRate: number;
  latencyMs: { p50: number | null; p95: number | null };
  tokens: { prompt: number; completion: number; cached: number; reasoning: number };
}

/** One upstream HTTP attempt that got an answer (success or an HTTP error), for load-aware limits. */
export interface AttemptReport {
  provider: string;
  /** Model and request kind, e.g. `glm-4.6+web`: latencies are compared within one family. */
  family: string;
  startedAt: number;
  ok: boolean;
  status?: number;
  providerCode?: string;
  /** Ms from the attempt's start to its first streamed token; unset when the answer was not streamed. */
  firstTokenMs?: number;
}

export type AttemptListener = (report: AttemptReport) => void;

/**
 * The contract every LLM backend implements, and the DI token it is found by.
 * A team adds a backend by providing a subclass in its own module.
 */
export abstract class LlmProvider {
  /** Upper-case provider id, also the name of its concurrency limit (`GLM`, `KIMI`). */
  abstract readonly id: string;

  /** The models this provider serves, from config (never a hard-coded allow-list). */
  abstract models(): Promise<LlmModelInfo[]>;

  /** The configured model ids, synchronously (for argument checks before admission). */
  abstract modelIds(): string[];

  /**
   * The configured model `name` means, matched case-insensitively (providers
   * with aliases also match those), or undefined when this provider does not
   * serve it.
   */
  resolveModel(name: string): LlmModelInfo | undefined {
    const wanted = name.toLowerCase();
    const id = this.modelIds().find((m) => m.toLowerCase() === wanted);
    return id === undefined ? undefined : { id };
  }

  /** The configured models with what is known about them, synchronously (listings, schemas). */
  catalogue(): LlmModelInfo[] {
    return this.modelIds().map((id) => ({ id }));
  }

  /** Whether `model` (any case, or an alias) is one of this provider's configured models. */
  serves(model: string): boolean {
    return this.resolveModel(model) !== undefined;
  }

  /**
   * Request fields beyond the common ones (model, messages, temperature,
   * max_tokens, top_p, stop, tools, tool_choice) that this API accepts and
   * that callers may pass through unchanged.
   */
  passthroughFields(): readonly string[] {
    return [];
  }

  /**
   * Whether a call of `model` is a thinking call (its deadline and request
   * kind): thinking was asked for, or the model's name says it always thinks
   * (docs/providers.md). The one place this rule lives.
   */
  isThinkingCall(model: string, thinkingRequested: boolean): boolean {
    return thinkingRequested || model.toLowerCase().includes('thinking');
  }

  /** Whether this provider is usable now: configured and its circuit not open. */
  abstract isAvailable(): boolean;

  /** The call budget in seconds for a model and request kind (the adaptive timeout table). */
  abstract timeoutSecs(model: string, kind: TimeoutKind): number;

  abstract status(): LlmProviderStatus;

  /** The HTTP body `complete` would send for `request`, without sending it (glm_payload_preview). */
  requestBody(request: LlmRequest): Record<string, unknown> | undefined {
    void request;
    return undefined;
  }

  /**
   * Runs one completion within `options.deadline`, retries included.
   * @throws a `CallError` subclass (PROVIDER_ERROR, PROVIDER_UNAVAILABLE, TIMEOUT, CANCELLED).
   */
  abstract complete(request: LlmRequest, options: LlmCallOptions): Promise<LlmResult>;

  private readonly attemptListeners: AttemptListener[] = [];

  /**
   * Tells `listener` about every upstream attempt this provider reports (the
   * adaptive concurrency limit listens). A backend that never reports simply
   * gives an adaptive limit nothing to learn from.
   */
  onAttempt(listener: AttemptListener): void {
    this.attemptListeners.push(listener);
  }

  protected reportAttempt(report: AttemptReport): void {
    for (const listener of this.attemptListeners) {
      try {
        listener(report);
      } catch {
        // A listener's failure must never fail the call it observes.
      }
    }
  }
}
