export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

/** Percentiles of samples (any unit), nearest-rank. */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), mean };
}

export function fmt(x: number, digits = 1): string {
  return x.toFixed(digits);
}

export function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** Smallest and largest of a per-round figure, printed as the spread across rounds. */
export function spread(values: number[], digits = 2): string {
  return `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
}

export function median(values: number[]): number {
  return summarize(values).p50;
}
