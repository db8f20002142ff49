export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface CallCount {
  tool: string;
  outcome: string;
  count: number;
}

/** The daemon serves HTTP on its WebSocket port, so /metrics lives next to the ws URL. */
export function metricsUrl(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.username = '';
  url.password = '';
  url.pathname = '/metrics';
  url.search = '';
  url.hash = '';
  return url.toString();
}

/**
 * The samples of the Prometheus text format, enough for the counters `watch`
 * shows; comments, timestamps and exemplars are ignored.
 */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line.trim());
    if (!m) continue;
    const value = Number(m[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

export function callCounts(samples: Sample[]): CallCount[] {
  return samples
    .filter((s) => s.name === 'exai_calls_total')
    .map((s) => ({ tool: s.labels.tool ?? '?', outcome: s.labels.outcome ?? '?', count: s.value }))
    .sort((a, b) => a.tool.localeCompare(b.tool) || a.outcome.localeCompare(b.outcome));
}

/**
 * Scrapes the call counters. Never throws: `watch` keeps running without them.
 * @returns the counts, or the reason they are unavailable
 */
export async function fetchCallCounts(
  url: string,
  timeoutMs: number,
  token = '',
): Promise<CallCount[] | { error: string }> {
  try {
    // A daemon bound off loopback wants its token for /metrics.
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
    if (!res.ok) return { error: `HTTP ${res.status}` };
    return callCounts(parsePrometheus(await res.text()));
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (err as Error).message ?? String(err) };
  }
}
