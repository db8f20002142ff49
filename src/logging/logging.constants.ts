/**
 * Paths pino replaces with "[redacted]". Secrets reach log calls only by
 * mistake; this is the net under that mistake, not a licence to log them.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'apiKey',
  'api_key',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.authorization',
  '*.*.apiKey',
  '*.*.token',
] as const;

/** The top-level keys among REDACTED_PATHS: a line of scalar fields can meet redaction only through one of these. */
export type RedactedKey = Exclude<(typeof REDACTED_PATHS)[number], `${string}.${string}`>;
