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
];
