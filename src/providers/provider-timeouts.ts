import type { ProviderTimeouts } from './providers.config';

export interface TimeoutKind {
  web: boolean;
  thinking: boolean;
}

/** The design's adaptive timeout table: one budget per (web, thinking) kind. */
export function selectTimeoutSecs(timeouts: ProviderTimeouts, kind: TimeoutKind): number {
  if (kind.web && kind.thinking) return timeouts.webThinking;
  if (kind.thinking) return timeouts.thinking;
  if (kind.web) return timeouts.webSearch;
  return timeouts.base;
}
