import {
  hasFaults,
  parseDirectives,
  SimDirectiveError,
  SimDirectives,
  stripDirectives,
  withoutFaults,
} from './simulator.directives';
import { SIM_ERRORS, SimHttpError } from './simulator.errors';
import { glmSearchResults, SimCompletion } from './simulator.responses';
import { estimateTokens, fillerWords, SimIdGenerator, splitWords } from './simulator.text';
import type { ScriptedResponse, SimProvider, WireToolCall } from './simulator.types';
import { KIMI_WEB_SEARCH, ValidatedChat } from './simulator.validation';

/** What the responder decided to send for one valid chat request. */
export type ChatPlan =
  | CompletionPlan
  | { kind: 'error'; error: SimHttpError }
  | { kind: 'raw'; status: number; text: string; headers: Record<string, string> };

export interface CompletionPlan {
  kind: 'completion';
  completion: SimCompletion;
  /** The answer is search-grounded, so it waits the web-search latency first. */
  searched: boolean;
  headers: Record<string, string>;
}

type CompletionBase = Pick<SimCompletion, 'id' | 'created' | 'model'>;

/**
 * Decides what a valid chat request gets: the next scripted response queued
 * for it, else an answer made from the request and its `[[sim:…]]`
 * directives. It also keeps what later requests of a conversation depend on:
 * fault attempts per conversation (`times=N`) and the `$web_search` calls it
 * issued, which Kimi checks when their results come back.
 */
export class SimChatPlanner {
  private readonly scripts: Record<SimProvider, ScriptedResponse[]> = { glm: [], kimi: [] };
  private readonly attempts = new Map<string, number>();
  private readonly issuedSearches = new Map<string, string>();
  private billed = 0;

  constructor(
    private readonly ids: SimIdGenerator,
    private readonly clock: () => number,
  ) {}

  /** Kimi responses with `finish_reason:"tool_calls"` and a `$web_search` call: what Kimi bills. */
  get billedSearches(): number {
    return this.billed;
  }

  script(provider: SimProvider, responses: ScriptedResponse[]): void {
    this.scripts[provider].push(...responses);
  }

  /** The arguments of a `$web_search` call this simulator issued, by call id. */
  issuedSearch(toolCallId: string): string | undefined {
    return this.issuedSearches.get(toolCallId);
  }

  reset(): void {
    this.scripts.glm.length = 0;
    this.scripts.kimi.length = 0;
    this.attempts.clear();
    this.issuedSearches.clear();
    this.billed = 0;
  }

  /**
   * The request's directives, with its faults dropped once the conversation
   * has had the `times=N` attempts they apply to.
   * @throws SimHttpError (the provider's 400) for a directive it does not understand.
   */
  directives(provider: SimProvider, chat: ValidatedChat, messages: unknown): SimDirectives {
    let d: SimDirectives;
    try {
      d = parseDirectives(chat.lastUserText);
    } catch (err) {
      if (err instanceof SimDirectiveError) throw SIM_ERRORS[provider].directive(err.message);
      throw err;
    }
    if (d.times !== undefined && hasFaults(d)) {
      const key = `${provider}\u0000${chat.model.id}\u0000${JSON.stringify(messages)}`;
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, attempt);
      if (attempt > d.times) d = withoutFaults(d);
    }
    return d;
  }

  plan(provider: SimProvider, chat: ValidatedChat, d: SimDirectives): ChatPlan {
    const plan = this.decide(provider, chat, d);
    if (plan.kind === 'completion' && provider === 'kimi') {
      const { toolCalls, finishReason } = plan.completion;
      if (toolCalls.some((t) => t.function.name === KIMI_WEB_SEARCH)) {
        for (const t of toolCalls) this.issuedSearches.set(t.id, t.function.arguments);
        if (finishReason === 'tool_calls') this.billed += 1;
      }
    }
    return plan;
  }

  private decide(provider: SimProvider, chat: ValidatedChat, d: SimDirectives): ChatPlan {
    const now = this.clock();
    const base = {
      id: provider === 'glm' ? (chat.requestId ?? this.ids.glmId(now)) : `cmpl-${this.ids.hex(32)}`,
      created: Math.floor(now / 1000),
      model: chat.model.id,
    };
    const scripted = this.takeScript(provider, chat.model.id);
    if (scripted) return this.fromScript(provider, chat, scripted, base);

    const echo = stripDirectives(chat.lastUserText);
    const reasoning = chat.thinking ? `Simulated reasoning about: ${echo || 'the request'}` : undefined;

    if (provider === 'kimi' && chat.kimiWebSearch && d.search !== undefined && chat.searchRounds < d.search) {
      const tokens = 1000 + echo.length;
      const args = JSON.stringify({
        search_result: { search_id: `sim-${this.ids.hex(16)}` },
        usage: { total_tokens: tokens },
      });
      const call: WireToolCall = {
        id: `call_${this.ids.hex(24)}`,
        type: 'builtin_function',
        function: { name: KIMI_WEB_SEARCH, arguments: args },
      };
      return completion(chat, base, {
        content: '',
        reasoning,
        toolCalls: [call],
        finishReason: 'tool_calls',
        extraCompletionTokens: estimateTokens(args.length),
        searched: false,
      });
    }

    const grounded = provider === 'kimi' && chat.searchRounds > 0;
    let content = d.tokens !== undefined ? fillerWords(d.tokens) : `SIM ${chat.model.id}: ${echo}`;
    let webSearch: SimCompletion['webSearch'];
    if (chat.glmWebSearch) {
      webSearch = glmSearchResults(
        chat.glmWebSearch.query ?? echo,
        Math.min(Math.max(chat.glmWebSearch.count ?? 2, 1), 10),
      );
      if (d.tokens === undefined) content += ' [ref_1]';
    }
    if (grounded && d.tokens === undefined) content += ` (grounded in ${chat.searchRounds} web search)`;
    if (chat.images > 0 && d.tokens === undefined)
      content += ` (saw ${chat.images} image${chat.images > 1 ? 's' : ''})`;
    let finishReason = d.finish ?? 'stop';
    if (chat.contextExceeded) {
      content = '';
      finishReason = 'model_context_window_exceeded';
    } else if (d.filter !== undefined) {
      // Only GLM output moderation reaches here: it stops generation mid-answer with HTTP 200 (docs/providers.md §2.5).
      content = splitWords(content).slice(0, 2).join('');
      finishReason = 'sensitive';
    }
    return completion(chat, base, {
      content,
      reasoning: chat.contextExceeded ? undefined : reasoning,
      toolCalls: [],
      finishReason,
      webSearch,
      searched: webSearch !== undefined || grounded,
      truncatable: d.finish === undefined,
    });
  }

  private takeScript(provider: SimProvider, model: string): ScriptedResponse | undefined {
    const queue = this.scripts[provider];
    const index = queue.findIndex((s) => s.model === undefined || s.model === model);
    return index < 0 ? undefined : queue.splice(index, 1)[0];
  }

  private fromScript(provider: SimProvider, chat: ValidatedChat, s: ScriptedResponse, base: CompletionBase): ChatPlan {
    const status = s.status ?? 200;
    const headers = s.headers ?? {};
    if (status !== 200) {
      if (s.rawBody !== undefined) {
        const contentType = s.rawBody.trimStart().startsWith('<') ? 'text/html' : 'text/plain';
        return { kind: 'error', error: new SimHttpError(status, undefined, headers, { text: s.rawBody, contentType }) };
      }
      const body = s.errorBody ?? SIM_ERRORS[provider].injected(status, 1).body;
      return { kind: 'error', error: new SimHttpError(status, body, headers) };
    }
    if (s.rawBody !== undefined) return { kind: 'raw', status, text: s.rawBody, headers };

    const toolCalls: WireToolCall[] = (s.toolCalls ?? []).map((t) => ({
      id: t.id ?? `call_${this.ids.hex(24)}`,
      type: t.type ?? (provider === 'kimi' && t.name.startsWith('$') ? 'builtin_function' : 'function'),
      function: { name: t.name, arguments: t.arguments },
    }));
    const content = s.content ?? '';
    const completion: SimCompletion = {
      ...base,
      content,
      reasoning: s.reasoning,
      toolCalls,
      finishReason: s.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
      promptTokens: s.usage?.prompt_tokens ?? chat.promptTokens,
      completionTokens:
        s.usage?.completion_tokens ??
        splitWords(content).length +
          splitWords(s.reasoning ?? '').length +
          toolCalls.reduce((n, t) => n + estimateTokens(t.function.arguments.length), 0),
    };
    return { kind: 'completion', completion, searched: false, headers };
  }
}

/** Input moderation (and Kimi's, which has no finish-reason form) rejects before any byte of the answer. */
export function filteredBeforeAnswer(provider: SimProvider, stream: boolean, d: SimDirectives): boolean {
  if (d.filter === undefined) return false;
  if (provider === 'kimi' || d.filter === 'input') return true;
  return d.filter === 'auto' && !stream;
}

/** A made-up answer cut to the request's `max_tokens` (finish `length`) unless a directive forced the finish. */
function completion(
  chat: ValidatedChat,
  base: CompletionBase,
  parts: {
    content: string;
    reasoning?: string;
    toolCalls: WireToolCall[];
    finishReason: string;
    webSearch?: SimCompletion['webSearch'];
    extraCompletionTokens?: number;
    searched: boolean;
    truncatable?: boolean;
  },
): CompletionPlan {
  let reasoningWords = splitWords(parts.reasoning ?? '');
  let contentWords = splitWords(parts.content);
  let finishReason = parts.finishReason;
  const budget = chat.maxTokens;
  if (parts.truncatable && budget !== undefined && reasoningWords.length + contentWords.length > budget) {
    reasoningWords = reasoningWords.slice(0, budget);
    contentWords = contentWords.slice(0, budget - reasoningWords.length);
    finishReason = 'length';
  }
  const completion: SimCompletion = {
    ...base,
    content: contentWords.join(''),
    reasoning: parts.reasoning === undefined ? undefined : reasoningWords.join(''),
    toolCalls: parts.toolCalls,
    finishReason,
    promptTokens: chat.promptTokens,
    completionTokens: reasoningWords.length + contentWords.length + (parts.extraCompletionTokens ?? 0),
    webSearch: parts.webSearch,
  };
  return { kind: 'completion', completion, searched: parts.searched, headers: {} };
}
