import type { JSONSchemaType } from 'ajv';
import type { ModelRoute } from './llm-call.service';

export type JsonSchema = Record<string, unknown> | JSONSchemaType<unknown>;
export type ProgressLevel = 'debug' | 'info' | 'warning' | 'error';

/** Everything a tool gets for one call. */
export interface ToolContext {
  readonly requestId: string;
  readonly sessionId: string;
  /** Aborted on deadline, cancel, disconnect of every caller, and shutdown. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds after which the call is failed with TIMEOUT. */
  readonly deadline: number;
  /** What prepare() resolved for this call; execute() runs with it and resolves nothing again. */
  readonly plan: PreparedCall;
  /** Sends a progress frame to the connection that made the call. */
  progress(message: string, level?: ProgressLevel): void;
}

export interface ToolResult {
  content: string;
  contentType?: 'text' | 'json' | 'markdown';
  metadata?: Record<string, unknown>;
}

/** The wire `ToolOutput` that the old shim parses from each output's text. */
export interface ToolOutput {
  status: 'success';
  content: string;
  content_type: string;
  metadata: Record<string, unknown>;
}

export interface ExaiToolOptions {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  /** Provider whose concurrency limit the call takes, when the tool knows it. */
  provider?: string;
  /** Call deadline in seconds; defaults to EXAI_TOOL_TIMEOUT_SECS. */
  timeoutSecs?: number | ((args: Record<string, unknown>) => number);
  /**
   * False for tools whose answer changes between identical calls (status,
   * version): they are neither served from the result cache nor coalesced.
   */
  cacheable?: boolean;
}

/** What a tool decides about a call before it is admitted. */
export interface PreparedCall {
  /** The arguments to run with (e.g. `model: "auto"` resolved); also the result-cache key. */
  args: Record<string, unknown>;
  /** The model call, when the tool makes one: provider, model, thinking, web and deadline. */
  route?: ModelRoute;
  /** The provider limit the call takes. */
  provider?: string;
  /** The call's deadline in seconds. */
  timeoutSecs?: number;
  /**
   * True when the call does no model or provider work (a workflow's local
   * step): it runs without taking a permit, still under a deadline and an
   * AbortSignal, and still ends in exactly one terminal frame.
   */
  local?: boolean;
  /** Anything else the tool decided here and needs in execute() (a workflow step's decision). */
  decision?: unknown;
}

/** What `prepare` knows about the caller. */
export interface PrepareContext {
  readonly sessionId: string;
}

/** Implemented by every class decorated with `@ExaiTool`. */
export interface ExaiToolHandler {
  /**
   * Optional: resolves model, provider and deadline before admission, so the
   * call takes the right permit. May throw (or reject with) InvalidArgumentsError.
   * Async when it reads state that may live in Redis (a conversation thread).
   */
  prepare?(args: Record<string, unknown>, ctx: PrepareContext): PreparedCall | Promise<PreparedCall>;
  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}
