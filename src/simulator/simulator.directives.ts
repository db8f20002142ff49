/** Injected failure: an HTTP status (429, 500, 503, any 4xx/5xx) or a named provider condition. */
export type SimErrorKind = number | 'quota' | 'overloaded';

/** Finish reasons a `[[sim:finish=…]]` directive may force. */
export const SIM_FINISH_REASONS = [
  'stop',
  'length',
  'sensitive',
  'network_error',
  'model_context_window_exceeded',
] as const;

export interface SimDirectives {
  /** Wait before response headers, in real ms (not scaled by speed). */
  delayMs?: number;
  /** Never answer until the client aborts. */
  stall: boolean;
  /** Stream K frames, then go silent until the client aborts. */
  stallAfter?: number;
  error?: SimErrorKind;
  /** Faults apply to the first N attempts of the conversation only (`error=429:N` or `times=N`). */
  times?: number;
  drop: boolean;
  tokens?: number;
  /** Kimi `$web_search` rounds before the grounded answer. */
  search?: number;
  retryAfter?: number;
  /**
   * Content moderation. `auto` (bare `filter`): GLM 400 1301 non-stream, `finish_reason:"sensitive"` when
   * streaming. `input`: 400 before any byte in both modes. `output`: GLM 200 + sensitive in both modes.
   * Kimi answers 400 content_filter for all three.
   */
  filter?: 'auto' | 'input' | 'output';
  finish?: string;
  html: boolean;
  malformed: boolean;
  /** Stream ends with `[DONE]` but no finish chunk. */
  noFinish: boolean;
}

/** A `[[sim:…]]` directive the simulator does not understand; answered as a provider 400 so typos are loud. */
export class SimDirectiveError extends Error {
  constructor(readonly directive: string) {
    super(`unknown or malformed simulator directive ${directive}`);
    this.name = 'SimDirectiveError';
  }
}

const DIRECTIVE = /\[\[sim:([a-z_]+)(?:=([^\]]*))?\]\]/gi;
const DIRECTIVE_WITH_SPACE = /\s*\[\[sim:[^\]]*\]\]/gi;

export function stripDirectives(text: string): string {
  return text.replace(DIRECTIVE_WITH_SPACE, '').trim();
}

/**
 * Reads every `[[sim:name=value]]` in `text`.
 * @throws SimDirectiveError for an unknown name or a bad value.
 */
export function parseDirectives(text: string): SimDirectives {
  const d: SimDirectives = { stall: false, drop: false, html: false, malformed: false, noFinish: false };
  for (const match of text.matchAll(DIRECTIVE)) {
    const [raw, rawName, value] = match;
    const name = rawName.toLowerCase();
    const int = (min: number): number => {
      const n = value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
      if (!Number.isSafeInteger(n) || n < min) throw new SimDirectiveError(raw);
      return n;
    };
    switch (name) {
      case 'delay':
        d.delayMs = int(0);
        break;
      case 'stall':
        d.stall = true;
        break;
      case 'stall_after':
        d.stallAfter = int(0);
        break;
      case 'error':
        parseError(raw, value, d);
        break;
      case 'times':
        d.times = int(0);
        break;
      case 'drop':
        d.drop = true;
        break;
      case 'tokens':
        d.tokens = int(0);
        break;
      case 'search':
        d.search = value === undefined ? 1 : int(1);
        break;
      case 'retry_after':
        d.retryAfter = int(0);
        break;
      case 'filter':
        if (value !== undefined && value !== 'input' && value !== 'output') throw new SimDirectiveError(raw);
        d.filter = value ?? 'auto';
        break;
      case 'finish':
        if (!(SIM_FINISH_REASONS as readonly string[]).includes(value ?? '')) throw new SimDirectiveError(raw);
        d.finish = value;
        break;
      case 'html':
        d.html = true;
        break;
      case 'malformed':
        d.malformed = true;
        break;
      case 'no_finish':
        d.noFinish = true;
        break;
      default:
        throw new SimDirectiveError(raw);
    }
  }
  return d;
}

function parseError(raw: string, value: string | undefined, d: SimDirectives): void {
  const m = /^(\d{3}|quota|overloaded)(?::(\d+))?$/i.exec(value?.trim() ?? '');
  if (!m) throw new SimDirectiveError(raw);
  const kind = m[1].toLowerCase();
  if (kind === 'quota' || kind === 'overloaded') {
    d.error = kind;
  } else {
    const status = Number(kind);
    if (status < 400 || status > 599) throw new SimDirectiveError(raw);
    d.error = status;
  }
  if (m[2] !== undefined) d.times = Number(m[2]);
}

/** True when the directives ask for anything that `times` gates (everything except tokens and search). */
export function hasFaults(d: SimDirectives): boolean {
  return (
    d.delayMs !== undefined ||
    d.stall ||
    d.stallAfter !== undefined ||
    d.error !== undefined ||
    d.drop ||
    d.filter !== undefined ||
    d.finish !== undefined ||
    d.html ||
    d.malformed ||
    d.noFinish
  );
}

/** The directives with every fault switched off: what a conversation gets after its `times` budget. */
export function withoutFaults(d: SimDirectives): SimDirectives {
  return {
    stall: false,
    drop: false,
    html: false,
    malformed: false,
    noFinish: false,
    tokens: d.tokens,
    search: d.search,
    times: d.times,
  };
}
