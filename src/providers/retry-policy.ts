/** Shortest attempt worth starting: less budget than this and a retry cannot help. */
export const MIN_USEFUL_ATTEMPT_MS = 1000;
const BASE_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8000;

/** Full-jitter exponential backoff: uniform in [0, min(cap, base · 2^attempt)]. */
export function fullJitterBackoff(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * The provider's own wait hint: a `Retry-After` header (seconds or HTTP date),
 * else Kimi's "please try again after N seconds" text (Kimi sends no header).
 */
export function retryAfterMs(
  header: string | null | undefined,
  message: string | undefined,
  now = Date.now(),
): number | undefined {
  if (header) {
    const secs = Number(header.trim());
    if (Number.isFinite(secs) && secs >= 0) return Math.round(secs * 1000);
    const at = Date.parse(header);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  const match = message ? /after\s+(\d+(?:\.\d+)?)\s*seconds?/i.exec(message) : null;
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

export interface RetryDecision {
  retry: boolean;
  waitMs: number;
}

/** Retry only a retryable failure, within the retry count, and only when the budget fits the wait plus a useful attempt. */
export function decideRetry(opts: {
  retryable: boolean;
  attempt: number;
  maxRetries: number;
  remainingMs: number;
  hintMs?: number;
  random?: () => number;
}): RetryDecision {
  const waitMs = opts.hintMs ?? fullJitterBackoff(opts.attempt, opts.random);
  const retry = opts.retryable && opts.attempt < opts.maxRetries && opts.remainingMs >= waitMs + MIN_USEFUL_ATTEMPT_MS;
  return { retry, waitMs };
}
