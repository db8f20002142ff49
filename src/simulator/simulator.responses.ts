import { splitWords } from './simulator.text';
import type { SimProvider, WireToolCall } from './simulator.types';

/** GLM's top-level `web_search[]` item (docs/providers.md §2.4). */
export interface GlmSearchItem {
  title: string;
  content: string;
  link: string;
  media: string;
  icon: string;
  refer: string;
  publish_date: string;
}

/** One finished answer, independent of how it is put on the wire. */
export interface SimCompletion {
  id: string;
  created: number;
  model: string;
  content: string;
  reasoning?: string;
  toolCalls: WireToolCall[];
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  webSearch?: GlmSearchItem[];
}

export type StreamPhase = 'head' | 'reasoning' | 'content' | 'tool' | 'final';

/** One SSE frame and what it carries, so the server can pace it (reasoning vs content latency). */
export interface StreamStep {
  frame: unknown;
  phase: StreamPhase;
}

export interface StreamShape {
  /** GLM `tool_stream:true`: arguments as fragments instead of one whole chunk. */
  toolStream: boolean;
  /** False for the `[[sim:no_finish]]` fault: `[DONE]` without a finish chunk. */
  withFinish: boolean;
}

export interface ResponseDialect {
  readonly jsonContentType: string;
  readonly streamContentType: string;
  body(c: SimCompletion): unknown;
  steps(c: SimCompletion, shape: StreamShape): StreamStep[];
}

export interface KimiShapeOptions {
  streamUsage: 'choice' | 'top' | 'both';
  cachedTokens: 'usage' | 'details';
}

export function glmSearchResults(query: string, count: number): GlmSearchItem[] {
  const q = query.trim() || 'simulated query';
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    return {
      title: `Simulated result ${i} for ${q}`,
      content: `Simulated search snippet ${i} about ${q}.`,
      link: `https://search.sim.invalid/${i}?q=${encodeURIComponent(q)}`,
      media: 'EXAI Simulator',
      icon: 'https://search.sim.invalid/favicon.ico',
      refer: `ref_${i}`,
      publish_date: '2025-09-30',
    };
  });
}

/** Argument fragments the way OpenAI-style streams cut them: roughly thirds, never empty. */
function fragments(text: string): string[] {
  if (text.length < 3) return [text];
  const size = Math.ceil(text.length / 3);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

class GlmResponses implements ResponseDialect {
  readonly jsonContentType = 'application/json; charset=UTF-8';
  readonly streamContentType = 'text/event-stream;charset=UTF-8';

  body(c: SimCompletion): unknown {
    const message: Record<string, unknown> = { content: c.content };
    if (c.reasoning !== undefined) message.reasoning_content = c.reasoning;
    message.role = 'assistant';
    if (c.toolCalls.length > 0) message.tool_calls = c.toolCalls;
    return {
      choices: [{ finish_reason: c.finishReason, index: 0, message }],
      created: c.created,
      id: c.id,
      model: c.model,
      request_id: c.id,
      usage: {
        completion_tokens: c.completionTokens,
        prompt_tokens: c.promptTokens,
        prompt_tokens_details: { cached_tokens: 0 },
        total_tokens: c.promptTokens + c.completionTokens,
      },
      ...(c.webSearch ? { web_search: c.webSearch } : {}),
    };
  }

  steps(c: SimCompletion, shape: StreamShape): StreamStep[] {
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      id: c.id,
      created: c.created,
      model: c.model,
      choices: [{ index: 0, ...choice }],
      ...extra,
    });
    const steps: StreamStep[] = [];
    for (const w of splitWords(c.reasoning ?? '')) {
      steps.push({ phase: 'reasoning', frame: chunk({ delta: { role: 'assistant', reasoning_content: w } }) });
    }
    for (const w of splitWords(c.content)) {
      steps.push({ phase: 'content', frame: chunk({ delta: { role: 'assistant', content: w } }) });
    }
    if (c.toolCalls.length > 0) {
      const indexed = c.toolCalls.map((t, index) => ({ id: t.id, index, type: t.type, function: t.function }));
      if (shape.toolStream) {
        for (const t of indexed) {
          const [first, ...rest] = fragments(t.function.arguments);
          const head = { ...t, function: { name: t.function.name, arguments: first } };
          steps.push({ phase: 'tool', frame: chunk({ delta: { role: 'assistant', tool_calls: [head] } }) });
          for (const piece of rest) {
            const frag = { index: t.index, function: { arguments: piece } };
            steps.push({ phase: 'tool', frame: chunk({ delta: { role: 'assistant', tool_calls: [frag] } }) });
          }
        }
      } else {
        // Without tool_stream the capture sends every call whole in one chunk that already carries finish_reason.
        const whole = chunk({ finish_reason: 'tool_calls', delta: { role: 'assistant', tool_calls: indexed } });
        steps.push({ phase: 'tool', frame: whole });
      }
    }
    if (shape.withFinish) {
      const usage = {
        prompt_tokens: c.promptTokens,
        completion_tokens: c.completionTokens,
        total_tokens: c.promptTokens + c.completionTokens,
        prompt_tokens_details: { cached_tokens: 0 },
      };
      const final = chunk({ finish_reason: c.finishReason, delta: { role: 'assistant', content: '' } }, { usage });
      steps.push({ phase: 'final', frame: final });
    }
    // Where GLM puts web_search[] in a stream is unverified (docs/providers.md §7); the first chunk is our choice.
    if (c.webSearch && steps.length > 0) (steps[0].frame as Record<string, unknown>).web_search = c.webSearch;
    return steps;
  }
}

class KimiResponses implements ResponseDialect {
  readonly jsonContentType = 'application/json; charset=utf-8';
  readonly streamContentType = 'text/event-stream';

  constructor(private readonly shape: KimiShapeOptions) {}

  private usage(c: SimCompletion): Record<string, unknown> {
    const base = {
      prompt_tokens: c.promptTokens,
      completion_tokens: c.completionTokens,
      total_tokens: c.promptTokens + c.completionTokens,
    };
    return this.shape.cachedTokens === 'usage'
      ? { ...base, cached_tokens: 0 }
      : { ...base, prompt_tokens_details: { cached_tokens: 0 } };
  }

  body(c: SimCompletion): unknown {
    const message: Record<string, unknown> = { role: 'assistant', content: c.content };
    if (c.reasoning !== undefined) message.reasoning_content = c.reasoning;
    if (c.toolCalls.length > 0) message.tool_calls = c.toolCalls.map((t, index) => ({ index, ...t }));
    return {
      id: c.id,
      object: 'chat.completion',
      created: c.created,
      model: c.model,
      choices: [{ index: 0, message, finish_reason: c.finishReason }],
      usage: this.usage(c),
    };
  }

  steps(c: SimCompletion, shape: StreamShape): StreamStep[] {
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      id: c.id,
      object: 'chat.completion.chunk',
      created: c.created,
      model: c.model,
      choices: [{ index: 0, ...choice }],
      ...extra,
    });
    const steps: StreamStep[] = [
      { phase: 'head', frame: chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }) },
    ];
    for (const w of splitWords(c.reasoning ?? '')) {
      steps.push({ phase: 'reasoning', frame: chunk({ delta: { reasoning_content: w }, finish_reason: null }) });
    }
    for (const w of splitWords(c.content)) {
      steps.push({ phase: 'content', frame: chunk({ delta: { content: w }, finish_reason: null }) });
    }
    c.toolCalls.forEach((t, index) => {
      const head = { index, id: t.id, type: t.type, function: { name: t.function.name, arguments: '' } };
      steps.push({ phase: 'tool', frame: chunk({ delta: { tool_calls: [head] }, finish_reason: null }) });
      for (const piece of fragments(t.function.arguments)) {
        const frag = { index, function: { arguments: piece } };
        steps.push({ phase: 'tool', frame: chunk({ delta: { tool_calls: [frag] }, finish_reason: null }) });
      }
    });
    if (shape.withFinish) {
      const inChoice = this.shape.streamUsage !== 'top';
      const topLevel = this.shape.streamUsage !== 'choice';
      const final = chunk(
        { delta: {}, finish_reason: c.finishReason, ...(inChoice ? { usage: this.usage(c) } : {}) },
        topLevel ? { usage: this.usage(c) } : {},
      );
      steps.push({ phase: 'final', frame: final });
    }
    return steps;
  }
}

export function responseDialects(kimi: KimiShapeOptions): Record<SimProvider, ResponseDialect> {
  return { glm: new GlmResponses(), kimi: new KimiResponses(kimi) };
}
