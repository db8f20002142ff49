/**
 * What one failed upstream attempt says about the provider's load. Only
 * answers that mean "too much at once" count: a quota or balance 429 is not
 * cured by sending less concurrently, so it is not an overload signal.
 */
export const OVERLOAD_SIGNALS = [
  'http_429',
  'http_503',
  'engine_overloaded',
  'rate_limit_reached',
  'glm_1302',
  'glm_1303',
  'glm_1305',
] as const;
export type OverloadSignal = (typeof OVERLOAD_SIGNALS)[number];

/** Provider codes that name an overload whatever the status (GLM codes, Kimi error types). */
const CODE_SIGNALS: Record<string, OverloadSignal> = {
  engine_overloaded_error: 'engine_overloaded',
  rate_limit_reached_error: 'rate_limit_reached',
  '1302': 'glm_1302',
  '1303': 'glm_1303',
  '1305': 'glm_1305',
};

/** 429s that are about money or quota, not concurrency (GLM 1113, Kimi exceeded_current_quota_error). */
const NOT_OVERLOAD = new Set(['1113', 'exceeded_current_quota_error']);

/** The overload signal in an HTTP failure, or undefined when it is some other failure. */
export function classifyOverload(
  status: number | undefined,
  providerCode: string | undefined,
): OverloadSignal | undefined {
  if (providerCode !== undefined) {
    if (NOT_OVERLOAD.has(providerCode)) return undefined;
    const named = CODE_SIGNALS[providerCode];
    if (named) return named;
  }
  if (status === 429) return 'http_429';
  if (status === 503) return 'http_503';
  return undefined;
}
