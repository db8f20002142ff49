export interface LlmModelInfo {
  id: string;
  contextWindow?: number;
  thinking?: boolean;
}

export interface LlmMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface LlmRequest {
  model: string;
  messages: LlmMessage[];
  temperature?: number;
  maxTokens?: number;
  webSearch?: boolean;
  thinking?: boolean;
}

export interface LlmCallOptions {
  signal: AbortSignal;
  /** Epoch ms: the whole call's budget, every attempt included. */
  deadline: number;
  onProgress?: (message: string) => void;
}

export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface LlmResult {
  content: string;
  reasoning?: string;
  model: string;
  usage: LlmUsage;
}

/**
 * The contract every LLM backend implements, and the DI token it is found by.
 * A team adds a backend by providing a subclass in its own module.
 */
export abstract class LlmProvider {
  /** Upper-case provider id, also the name of its concurrency limit (`GLM`, `KIMI`). */
  abstract readonly id: string;

  /** The models this provider serves, from config or its `/models` endpoint. */
  abstract models(): Promise<LlmModelInfo[]>;

  /**
   * Runs one completion within `options.deadline`.
   * @throws a `CallError` subclass (PROVIDER_ERROR, PROVIDER_UNAVAILABLE, TIMEOUT, CANCELLED).
   */
  abstract complete(request: LlmRequest, options: LlmCallOptions): Promise<LlmResult>;
}
