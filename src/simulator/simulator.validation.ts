import { stableJson } from '../common/stable-json';
import { SIM_ERRORS, SimErrorDialect } from './simulator.errors';
import { findSimModel } from './simulator.models';
import { estimateTokens } from './simulator.text';
import type { ChatMessage, SimModel, SimProvider, WireToolCall } from './simulator.types';

export const KIMI_WEB_SEARCH = '$web_search';

export interface ValidationOptions {
  kimiStrictThinking: boolean;
  glmContextOverflow: 'error' | 'finish';
  /** The arguments the simulator issued for a `$web_search` call id, if it issued it. */
  issuedSearch(toolCallId: string): string | undefined;
}

export interface GlmWebSearchRequest {
  query?: string;
  count?: number;
}

/** A chat request that passed every provider check, reduced to what the responder needs. */
export interface ValidatedChat {
  model: SimModel;
  messages: ChatMessage[];
  stream: boolean;
  maxTokens?: number;
  /** Emit reasoning_content: GLM thinking model with `thinking.type === 'enabled'`; any Kimi thinking model. */
  thinking: boolean;
  /** GLM `tool_stream:true`: tool-call arguments stream as fragments. */
  toolStream: boolean;
  glmWebSearch?: GlmWebSearchRequest;
  kimiWebSearch: boolean;
  /** `$web_search` tool results after the last user message (rounds already done). */
  searchRounds: number;
  /** Search tokens Kimi adds to the prompt for every verified `$web_search` result in history. */
  searchTokens: number;
  /** Prompt tokens including search tokens. */
  promptTokens: number;
  /** GLM in 'finish' overflow mode: answer with `finish_reason:"model_context_window_exceeded"`. */
  contextExceeded: boolean;
  /** The last user message's text, directives included. */
  lastUserText: string;
  /** Image parts across the messages (vision models only). */
  images: number;
  /** GLM's caller-chosen `request_id`, echoed as the response id. */
  requestId?: string;
}

type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonEqual(a: string, b: string): boolean {
  try {
    return stableJson(JSON.parse(a)) === stableJson(JSON.parse(b));
  } catch {
    return false;
  }
}

/**
 * Applies the provider's request checks in the order a client would meet them.
 * @throws SimHttpError with the provider-faithful body for the first failed check.
 */
export function validateChat(provider: SimProvider, body: unknown, options: ValidationOptions): ValidatedChat {
  const errors = SIM_ERRORS[provider];
  if (!isRecord(body)) throw errors.badJson();
  if (typeof body.model !== 'string' || body.model === '') throw errors.missing('model');
  if (body.messages === undefined || body.messages === null) throw errors.missing('messages');
  if (!Array.isArray(body.messages)) throw errors.invalid('messages must be an array');
  if (body.messages.length === 0) throw errors.missing('messages');
  const model = findSimModel(provider, body.model);
  if (!model) throw errors.unknownModel(body.model);

  const messages = body.messages.map((m, i) => parseMessage(errors, m, i));
  const images = messages.reduce((n, m) => n + m.images, 0);
  if (images > 0 && !model.vision) throw errors.invalid(`model ${model.id} does not accept image input`);
  checkEmptyContent(provider, errors, messages);
  checkToolCallIds(errors, messages);
  if (provider === 'kimi' && model.thinking && options.kimiStrictThinking) checkReasoningKept(errors, messages);

  const temperature = checkRange(errors, body, 'temperature', 0, 1);
  checkRange(errors, body, 'top_p', provider === 'glm' ? 0.01 : 0, 1);
  const maxTokens = checkMaxTokens(provider, errors, body, model);
  if (provider === 'kimi') checkKimiParams(errors, body, temperature ?? model.defaultTemperature);

  const tools = parseTools(provider, errors, body.tools);
  const search = provider === 'kimi' ? checkWebSearchEcho(errors, messages, options) : { tokens: 0, rounds: 0 };
  const thinking = provider === 'kimi' ? model.thinking : model.thinking && glmThinkingEnabled(errors, body.thinking);

  const chars = messages.reduce(
    (sum, m) =>
      sum +
      m.text.length +
      (m.reasoning?.length ?? 0) +
      m.toolCalls.reduce((s, c) => s + c.function.name.length + c.function.arguments.length, 0),
    0,
  );
  const promptTokens = Math.max(1, estimateTokens(chars)) + search.tokens;
  let contextExceeded = false;
  if (promptTokens > model.contextWindow) {
    if (provider === 'glm' && options.glmContextOverflow === 'finish') contextExceeded = true;
    else throw errors.promptTooLong(model.contextWindow, promptTokens);
  } else if (provider === 'kimi' && maxTokens !== undefined && promptTokens + maxTokens > model.contextWindow) {
    throw errors.exceededTokenLimit(model.contextWindow);
  }

  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return {
    model,
    messages,
    stream: body.stream === true,
    maxTokens,
    thinking,
    toolStream: provider === 'glm' && body.tool_stream === true,
    glmWebSearch: tools.glmWebSearch,
    kimiWebSearch: tools.kimiWebSearch,
    searchRounds: search.rounds,
    searchTokens: search.tokens,
    promptTokens,
    contextExceeded,
    lastUserText: lastUser?.text ?? '',
    images,
    requestId: provider === 'glm' && typeof body.request_id === 'string' ? body.request_id : undefined,
  };
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

function parseMessage(errors: SimErrorDialect, raw: unknown, index: number): ChatMessage {
  if (!isRecord(raw)) throw errors.invalid(`messages[${index}] must be an object`);
  const role = raw.role;
  if (typeof role !== 'string' || !ROLES.has(role)) {
    throw errors.invalid(`messages[${index}].role must be one of system, user, assistant, tool`);
  }
  const content = contentParts(errors, raw.content, index);
  const message: ChatMessage = {
    role: role as ChatMessage['role'],
    text: content.text,
    images: content.images,
    toolCalls: [],
  };
  if (raw.tool_calls !== undefined && raw.tool_calls !== null) {
    if (role !== 'assistant' || !Array.isArray(raw.tool_calls)) {
      throw errors.invalid(`messages[${index}].tool_calls is only valid as an array on an assistant message`);
    }
    message.toolCalls = raw.tool_calls.map((c, j) => parseToolCall(errors, c, `messages[${index}].tool_calls[${j}]`));
  }
  if (typeof raw.reasoning_content === 'string') message.reasoning = raw.reasoning_content;
  if (role === 'tool') {
    if (typeof raw.tool_call_id !== 'string' || raw.tool_call_id === '') {
      throw errors.invalid(`messages[${index}].tool_call_id is required for a tool message`);
    }
    message.toolCallId = raw.tool_call_id;
  }
  return message;
}

/** Strings, null (assistant tool-call turns) and OpenAI content-part arrays of text and image_url parts. */
function contentParts(errors: SimErrorDialect, content: unknown, index: number): { text: string; images: number } {
  if (content === undefined || content === null) return { text: '', images: 0 };
  if (typeof content === 'string') return { text: content, images: 0 };
  if (!Array.isArray(content)) {
    throw errors.invalid(`messages[${index}].content must be a string or an array of content parts`);
  }
  let text = '';
  let images = 0;
  content.forEach((part, j) => {
    const where = `messages[${index}].content[${j}]`;
    if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') {
      text += part.text;
    } else if (isRecord(part) && part.type === 'image_url') {
      const url = isRecord(part.image_url) ? part.image_url.url : undefined;
      if (typeof url !== 'string' || !/^(data:image\/[a-z0-9.+-]+;base64,|https?:\/\/)/i.test(url)) {
        throw errors.invalid(`${where}.image_url.url must be an http(s) URL or a base64 data:image URL`);
      }
      images += 1;
    } else {
      throw errors.invalid(`${where} must be a text or image_url part`);
    }
  });
  return { text, images };
}

function parseToolCall(errors: SimErrorDialect, raw: unknown, where: string): WireToolCall {
  if (!isRecord(raw) || typeof raw.id !== 'string' || !isRecord(raw.function)) {
    throw errors.invalid(`${where} must have an id and a function`);
  }
  const fn = raw.function;
  if (typeof fn.name !== 'string') throw errors.invalid(`${where}.function.name is required`);
  // GLM's OpenAPI shows arguments as an object while captures show a string; accept both.
  const args = typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {});
  return {
    id: raw.id,
    type: typeof raw.type === 'string' ? raw.type : 'function',
    function: { name: fn.name, arguments: args },
  };
}

function checkEmptyContent(provider: SimProvider, errors: SimErrorDialect, messages: ChatMessage[]): void {
  if (provider === 'glm') {
    if (!messages.some((m) => (m.role === 'user' || m.role === 'system') && m.text.trim() !== '')) {
      throw errors.missing('prompt');
    }
    return;
  }
  messages.forEach((m, i) => {
    const allowedEmpty = m.role === 'assistant' && m.toolCalls.length > 0;
    if (m.text === '' && !allowedEmpty) throw errors.emptyMessage(i, m.role);
  });
}

function checkToolCallIds(errors: SimErrorDialect, messages: ChatMessage[]): void {
  const issued = new Set<string>();
  for (const m of messages) {
    for (const c of m.toolCalls) issued.add(c.id);
    if (m.role === 'tool' && !issued.has(m.toolCallId ?? '')) {
      throw errors.invalid(`tool_call_id ${m.toolCallId} is not found`);
    }
  }
}

function checkReasoningKept(errors: SimErrorDialect, messages: ChatMessage[]): void {
  messages.forEach((m, i) => {
    if (m.role === 'assistant' && m.toolCalls.length > 0 && !m.reasoning) {
      throw errors.invalid(
        `thinking is enabled but reasoning_content is missing in assistant tool call message at index ${i}`,
      );
    }
  });
}

function checkRange(errors: SimErrorDialect, body: Json, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw errors.outOfRange(field, min, max);
  return v;
}

function checkMaxTokens(
  provider: SimProvider,
  errors: SimErrorDialect,
  body: Json,
  model: SimModel,
): number | undefined {
  const field =
    provider === 'kimi' && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  const max = provider === 'glm' ? model.maxOutput : model.contextWindow;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw errors.outOfRange(field, 1, max);
  return v;
}

function checkKimiParams(errors: SimErrorDialect, body: Json, temperature: number): void {
  const n = body.n;
  if (n !== undefined && n !== null) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 5) throw errors.outOfRange('n', 1, 5);
    if (n > 1 && temperature < 0.01) throw errors.invalid('n > 1 requires a temperature above 0');
  }
  checkRange(errors, body, 'presence_penalty', -2, 2);
  checkRange(errors, body, 'frequency_penalty', -2, 2);
  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    const list: unknown[] = Array.isArray(stop) ? stop : [stop];
    if (list.length > 5) throw errors.invalid('stop must contain at most 5 sequences');
    if (list.some((s) => typeof s !== 'string' || Buffer.byteLength(s) > 32)) {
      throw errors.invalid('each stop sequence must be a string of at most 32 bytes');
    }
  }
}

interface ParsedTools {
  glmWebSearch?: GlmWebSearchRequest;
  kimiWebSearch: boolean;
}

function parseTools(provider: SimProvider, errors: SimErrorDialect, tools: unknown): ParsedTools {
  const parsed: ParsedTools = { kimiWebSearch: false };
  if (tools === undefined || tools === null) return parsed;
  if (!Array.isArray(tools)) throw errors.invalid('tools must be an array');
  tools.forEach((tool, i) => {
    if (!isRecord(tool) || typeof tool.type !== 'string') throw errors.invalid(`tools[${i}].type is required`);
    const fn = tool.function;
    const fnName = isRecord(fn) && typeof fn.name === 'string' ? fn.name : undefined;
    if (tool.type === 'function') {
      if (!fnName) throw errors.invalid(`tools[${i}].function.name is required`);
      return;
    }
    if (provider === 'glm') {
      if (tool.type === 'web_search') {
        const ws = tool.web_search;
        if (!isRecord(ws)) throw errors.invalid(`tools[${i}]: a web_search tool requires a web_search object`);
        if (ws.enable === true || ws.enable === 'true' || ws.enable === 'True') {
          parsed.glmWebSearch = {
            query: typeof ws.search_query === 'string' ? ws.search_query : undefined,
            count: typeof ws.count === 'number' ? ws.count : undefined,
          };
        }
        return;
      }
      if (tool.type === 'retrieval' || tool.type === 'mcp') return;
    } else if (tool.type === 'builtin_function') {
      if (fnName !== KIMI_WEB_SEARCH) throw errors.invalid(`unknown builtin_function ${fnName ?? '(none)'}`);
      parsed.kimiWebSearch = true;
      return;
    }
    throw errors.invalid(`tools[${i}].type ${tool.type} is not supported`);
  });
  return parsed;
}

/** Kimi's server-side search only works if the client echoes the call exactly (docs/providers.md §3.4). */
function checkWebSearchEcho(
  errors: SimErrorDialect,
  messages: ChatMessage[],
  options: ValidationOptions,
): { tokens: number; rounds: number } {
  let tokens = 0;
  let rounds = 0;
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  messages.forEach((m, i) => {
    for (const call of m.toolCalls) {
      if (call.function.name !== KIMI_WEB_SEARCH) continue;
      const issued = options.issuedSearch(call.id);
      if (issued !== undefined && !jsonEqual(issued, call.function.arguments)) {
        throw errors.invalid(`the arguments of ${KIMI_WEB_SEARCH} call ${call.id} were modified`);
      }
      const result = messages.slice(i + 1).find((r) => r.role === 'tool' && r.toolCallId === call.id);
      if (!result) throw errors.invalid(`tool call ${call.id} has no tool response message`);
      if (!jsonEqual(result.text, call.function.arguments)) {
        throw errors.invalid(`the ${KIMI_WEB_SEARCH} result for ${call.id} must echo the call arguments`);
      }
      tokens += searchTokensOf(call.function.arguments);
      if (i > lastUser) rounds += 1;
    }
  });
  return { tokens, rounds };
}

function searchTokensOf(args: string): number {
  const parsed: unknown = JSON.parse(args);
  const usage = isRecord(parsed) ? parsed.usage : undefined;
  return isRecord(usage) && typeof usage.total_tokens === 'number' ? usage.total_tokens : 0;
}

function glmThinkingEnabled(errors: SimErrorDialect, thinking: unknown): boolean {
  if (thinking === undefined || thinking === null) return false;
  if (!isRecord(thinking) || (thinking.type !== 'enabled' && thinking.type !== 'disabled')) {
    throw errors.invalid('thinking.type must be enabled or disabled');
  }
  return thinking.type === 'enabled';
}
