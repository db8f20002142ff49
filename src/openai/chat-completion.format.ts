import type { LlmDelta, LlmResult, LlmUsage } from '../providers/llm-provider';

/** The `usage` object of OpenAI's chat completion, with the details its SDKs read. */
export function openAiUsage(usage: LlmUsage): Record<string, unknown> {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
}

/** A non-streamed answer: `object: "chat.completion"`. */
export function completionBody(id: string, created: number, model: string, result: LlmResult): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: result.content };
  if (result.reasoning) message.reasoning_content = result.reasoning;
  if (result.toolCalls) message.tool_calls = result.toolCalls;
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message, finish_reason: result.finishReason || 'stop', logprobs: null }],
    usage: openAiUsage(result.usage),
  };
}

/** One streamed piece: `object: "chat.completion.chunk"`. */
export function chunkBody(
  id: string,
  created: number,
  model: string,
  delta: Record<string, unknown>,
  finishReason: string | null = null,
): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  };
}

/** An upstream delta in OpenAI's delta shape (`reasoning_content` as GLM and Kimi name it). */
export function deltaBody(delta: LlmDelta): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (delta.content !== undefined) out.content = delta.content;
  if (delta.reasoning !== undefined) out.reasoning_content = delta.reasoning;
  if (delta.toolCalls) out.tool_calls = delta.toolCalls;
  return out;
}
