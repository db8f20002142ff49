export const HEALTH_PROBE_TIMEOUT_MS = 2000;
export const HEALTH_MESSAGES = {
  TIMED_OUT: 'health probe timed out',
  FAILED: 'health probe failed',
  SHUTTING_DOWN: 'daemon is shutting down',
} as const;
