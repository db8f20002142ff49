import type { LlmMessage, LlmToolCall } from '../providers/llm-provider';
import { OpenAiApiError } from './openai.errors';

/** A `POST /v1/chat/completions` body, checked and turned into what a provider takes. */
export interface ChatCompletionRequest {
  /** As the caller named it: a model id, an alias, or `auto`. */
  model: string;
  messages: LlmMessage[];
  temperature?: number;
  maxTokens?: number;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage and no choices. */
  includeUsage: boolean;
  tools?: unknown[];
  toolChoice?: unknown;
  stop?: string | string[];
  topP?: number;
  /** Every other field, passed on only where the serving provider accepts it. */
  extra: Record<string, unknown>;
}

/**
 * Fields an OpenAI client may send that change nothing a provider does
 * (OpenAI-side storage, tracing, tiering), so dropping them loses nothing.
 */
const IGNORED_FIELDS = new Set(['user', 'store', 'metadata', 'service_tier']);

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** @throws OpenAiApiError (400) naming the offending parameter. */
export function parseChatRequest(body: unknown): ChatCompletionRequest {
  if (!isRecord(body)) throw invalid('The request body must be a JSON object.');
  const {
    model,
    messages,
    temperature,
    max_tokens,
    max_completion_tokens,
    stream,
    stream_options,
    tools,
    tool_choice,
    stop,
    top_p,
    n,
    parallel_tool_calls,
    ...rest
  } = body;

  if (typeof model !== 'string' || model === '') throw invalid('model is required and must be a string.', 'model');
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw invalid('stream must be a boolean.', 'stream');
  }
  if (stream_options !== undefined && stream_options !== null && !isRecord(stream_options)) {
    throw invalid('stream_options must be an object.', 'stream_options');
  }
  if (n !== undefined && n !== null && n !== 1) throw invalid('Only n=1 is supported.', 'n');
  if (parallel_tool_calls !== undefined && parallel_tool_calls !== null && typeof parallel_tool_calls !== 'boolean') {
    throw invalid('parallel_tool_calls must be a boolean.', 'parallel_tool_calls');
  }
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (!IGNORED_FIELDS.has(key) && value !== undefined && value !== null) extra[key] = value;
  }
  // `true` is every provider's behaviour anyway; `false` asks for something
  // they do not promise, so it goes through the provider check like any field.
  if (parallel_tool_calls === false) extra.parallel_tool_calls = false;
  const request: ChatCompletionRequest = {
    model,
    messages: parseMessages(messages),
    stream: stream === true,
    includeUsage: isRecord(stream_options) && stream_options.include_usage === true,
    extra,
  };
  const maxTokens = max_completion_tokens ?? max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) {
    if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1) {
      const param = max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
      throw invalid(`${param} must be a positive integer.`, param);
    }
    request.maxTokens = maxTokens as number;
  }
  if (temperature !== undefined && temperature !== null) {
    request.temperature = numberIn(temperature, 0, 2, 'temperature');
  }
  if (top_p !== undefined && top_p !== null) request.topP = numberIn(top_p, 0, 1, 'top_p');
  if (stop !== undefined && stop !== null) {
    const ok = typeof stop === 'string' || (Array.isArray(stop) && stop.every((s) => typeof s === 'string'));
    if (!ok) throw invalid('stop must be a string or an array of strings.', 'stop');
    request.stop = stop;
  }
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools) || !tools.every(isRecord)) throw invalid('tools must be an array of objects.', 'tools');
    request.tools = tools;
  }
  if (tool_choice !== undefined && tool_choice !== null) {
    if (typeof tool_choice !== 'string' && !isRecord(tool_choice)) {
      throw invalid('tool_choice must be a string or an object.', 'tool_choice');
    }
    request.toolChoice = tool_choice;
  }
  return request;
}

/** The characters of every message, for the routing rules' long-context estimate. */
export function promptChars(messages: readonly LlmMessage[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

function parseMessages(value: unknown): LlmMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid('messages must be a non-empty array.', 'messages');
  }
  return value.map((raw, i) => parseMessage(raw, `messages[${i}]`));
}

function parseMessage(raw: unknown, at: string): LlmMessage {
  if (!isRecord(raw)) throw invalid(`${at} must be an object.`, at);
  const role = raw.role;
  if (typeof role !== 'string' || !ROLES.has(role)) {
    throw invalid(`${at}.role must be one of system, developer, user, assistant, tool.`, `${at}.role`);
  }
  const message: LlmMessage = {
    // GLM and Kimi know no `developer` role; it is OpenAI's new name for system.
    role: role === 'developer' ? 'system' : (role as LlmMessage['role']),
    content: contentText(raw.content, `${at}.content`, role === 'assistant'),
  };
  if (typeof raw.name === 'string') message.name = raw.name;
  if (role === 'tool') {
    if (typeof raw.tool_call_id !== 'string' || raw.tool_call_id === '') {
      throw invalid(`${at}.tool_call_id is required for a tool message.`, `${at}.tool_call_id`);
    }
    message.tool_call_id = raw.tool_call_id;
  }
  if (role === 'assistant' && raw.tool_calls !== undefined && raw.tool_calls !== null) {
    if (!Array.isArray(raw.tool_calls) || !raw.tool_calls.every(isRecord)) {
      throw invalid(`${at}.tool_calls must be an array of objects.`, `${at}.tool_calls`);
    }
    message.tool_calls = raw.tool_calls as unknown as LlmToolCall[];
  }
  if (role === 'assistant' && typeof raw.reasoning_content === 'string') {
    message.reasoning_content = raw.reasoning_content;
  }
  return message;
}

/**
 * A string, or OpenAI's array of content parts when every part is text.
 * Other parts (images, audio, files) are refused, not dropped: the answer
 * would silently ignore them.
 */
function contentText(content: unknown, at: string, nullable: boolean): string {
  if (typeof content === 'string') return content;
  if ((content === null || content === undefined) && nullable) return '';
  if (!Array.isArray(content)) throw invalid(`${at} must be a string or an array of content parts.`, at);
  return content
    .map((part, i) => {
      if (!isRecord(part) || part.type !== 'text' || typeof part.text !== 'string') {
        const type = isRecord(part) && typeof part.type === 'string' ? part.type : 'unknown';
        throw invalid(`${at}[${i}]: content parts of type "${type}" are not supported; send text.`, `${at}[${i}]`);
      }
      return part.text;
    })
    .join('\n');
}

function numberIn(value: unknown, min: number, max: number, param: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`${param} must be a number between ${min} and ${max}.`, param);
  }
  return value;
}

function invalid(message: string, param?: string): OpenAiApiError {
  return new OpenAiApiError(400, message, 'invalid_request_error', 'invalid_request', param);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
