/** Longest client-supplied string a log field carries. */
export const MAX_LOGGED_CHARS = 200;

/**
 * A client-supplied string cut to a size fit for a log line: ids and names are
 * bounded on the wire, but tool names, models and error texts echo whatever
 * the client sent, and one log line must never carry megabytes.
 */
export function forLog(value: unknown, max = MAX_LOGGED_CHARS): string {
  const text = typeof value === 'string' ? value : String(value);
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}
