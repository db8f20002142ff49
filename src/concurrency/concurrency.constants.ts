/** Wire names of the limits, as they appear in `waiting_for`, `limit` and metrics. */
export const GLOBAL_LIMIT = 'global';
export const SESSION_LIMIT = 'session';

/** Ledger keys: one per limit instance. */
export const limitKey = {
  global: (): string => 'global',
  provider: (provider: string): string => `provider:${provider}`,
  session: (sessionId: string): string => `session:${sessionId}`,
};

/** The lease is released at most this long after its call was aborted, even if the tool never settles. */
export const ABORT_SETTLE_MAX_MS = 1000;

export const LEAK_AUDIT_JOB = 'exai-leak-audit';
