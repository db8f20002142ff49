/** The APIs the simulator speaks. */
export const SIM_PROVIDERS = ['glm', 'kimi'] as const;
export type SimProvider = (typeof SIM_PROVIDERS)[number];

export interface SimLatency {
  /** Time to first token (after response headers for streams). */
  ttftMs: number;
  interTokenMs: number;
  /** Reasoning phase of a thinking reply, spread over its reasoning tokens. */
  thinkingMs: number;
  /** Extra wait before a search-grounded answer (GLM web_search, Kimi reply 2, GLM /web_search). */
  webSearchMs: number;
}

export interface SimulatorOptions {
  /** Accepted bearer keys per provider. Default: glm ['sim-glm-key'], kimi ['sim-kimi-key']. */
  keys?: Partial<Record<SimProvider, string[]>>;
  /** Multiplies every latency; 0 = instant. Directive delays (`[[sim:delay=MS]]`) are not scaled. Default 1. */
  speed?: number;
  /** Defaults: ttft 400, interToken 30, thinking 2000, webSearch 1500 (docs/providers.md §6), scaled by `speed`. */
  latency?: Partial<SimLatency>;
  /** Where Kimi streaming usage goes: inside `choices[0]` (documented default), top-level, or both. */
  kimiStreamUsage?: 'choice' | 'top' | 'both';
  /** Kimi cached-token field: `usage.cached_tokens` (documented default) or `usage.prompt_tokens_details.cached_tokens`. */
  kimiCachedTokens?: 'usage' | 'details';
  /** Kimi strict thinking check (assistant tool_calls without reasoning_content on a thinking model → 400). Default true. */
  kimiStrictThinking?: boolean;
  /** GLM prompt over the context window: 400 code 1210 (default) or 200 with `finish_reason:"model_context_window_exceeded"`. */
  glmContextOverflow?: 'error' | 'finish';
  /** Optional Retry-After / X-RateLimit-* headers on 429s. Default false (matches reality). */
  rateLimitHeaders?: boolean;
  /** Real limit enforcement per key: e.g. { kimi: { concurrency: 1, rpm: 3 } }. Default none. */
  limits?: Partial<Record<SimProvider, { concurrency?: number; rpm?: number }>>;
  /**
   * Account-wide concurrent capacity per provider (all keys together): beyond it GLM answers 429 code 1302
   * and Kimi 429 engine_overloaded_error, with Retry-After; latency grows as it fills. Changeable at run
   * time through `capacity.set()` or `POST /sim/capacity`. Default unlimited.
   */
  capacity?: Partial<Record<SimProvider, number>>;
  /** Files API account limits. Default: 1000 files, 100 MB each, 512 MB in all. */
  fileLimits?: Partial<{ maxFiles: number; maxFileBytes: number; maxTotalBytes: number }>;
  /** Epoch-ms clock for `created` timestamps, ids and RPM windows. Default `Date.now`. */
  clock?: () => number;
}

export interface RecordedRequest {
  provider: SimProvider;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  at: number;
}

export interface ScriptedToolCall {
  id?: string;
  type?: string;
  name: string;
  arguments: string;
}

export interface ScriptedResponse {
  /** Only consumed by a request for this model; unset matches any model. */
  model?: string;
  /** Default 200. */
  status?: number;
  content?: string;
  reasoning?: string;
  toolCalls?: ScriptedToolCall[];
  /** stop | length | tool_calls | sensitive | network_error | model_context_window_exceeded */
  finishReason?: string;
  /** Raw JSON body for a non-200. */
  errorBody?: unknown;
  /** Sent verbatim instead of any JSON, e.g. an HTML gateway page. */
  rawBody?: string;
  headers?: Record<string, string>;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface SimModelInfo {
  id: string;
  contextWindow: number;
  thinking: boolean;
  defaultTemperature: number;
}

/** A model-table row; `maxOutput` drives GLM's max_tokens range check. */
export interface SimModel extends SimModelInfo {
  maxOutput: number;
  /** Accepts image_url content parts. */
  vision?: boolean;
}

/** A tool call as it appears on the wire (`arguments` is a JSON string). */
export interface WireToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

/** A request message reduced to what the simulator reasons about. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  text: string;
  /** image_url parts in the content. */
  images: number;
  toolCalls: WireToolCall[];
  toolCallId?: string;
  reasoning?: string;
}
