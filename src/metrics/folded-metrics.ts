import type { Registry } from 'prom-client';

/** What prom-client's Registry reads from a metric when it renders a scrape. */
interface MetricSample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface FoldedConfig<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers: Registry[];
}

/**
 * Per-label-set cells in nested Maps, one level per label name in its
 * declared order: finding a call's cell is a Map lookup per label, with no
 * string built and nothing allocated once the cell exists. Label values are
 * bounded by the metric's design (tool names, outcomes), as with prom-client.
 */
class LabelCells<L extends string, C> {
  private readonly root = new Map<string, unknown>();
  /** In first-use order, as prom-client lists a metric's label sets. */
  readonly all: Array<{ labels: Record<L, string>; cell: C }> = [];

  constructor(
    private readonly labelNames: readonly L[],
    private readonly make: () => C,
  ) {}

  get(labels: Readonly<Record<L, string>> | undefined): C {
    const names = this.labelNames;
    if (names.length === 0) return this.unlabelled();
    let level = this.root;
    for (let i = 0; i < names.length - 1; i++) {
      const value = labelValue(labels, names[i]);
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (!next) level.set(value, (next = new Map()));
      level = next;
    }
    const last = labelValue(labels, names[names.length - 1]);
    const cell = level.get(last) as C | undefined;
    return cell ?? this.add(level, last, labels);
  }

  clear(): void {
    this.root.clear();
    this.all.length = 0;
  }

  private unlabelled(): C {
    if (this.all.length === 0) this.all.push({ labels: {} as Record<L, string>, cell: this.make() });
    return this.all[0].cell;
  }

  private add(level: Map<string, unknown>, last: string, labels: Readonly<Record<L, string>> | undefined): C {
    const cell = this.make();
    level.set(last, cell);
    const copy = {} as Record<L, string>;
    for (const name of this.labelNames) copy[name] = labelValue(labels, name);
    this.all.push({ labels: copy, cell });
    return cell;
  }
}

function labelValue(labels: Readonly<Record<string, string>> | undefined, name: string): string {
  const value = labels?.[name];
  if (value === undefined) throw new Error(`Missing label "${name}"`);
  return String(value);
}

type Rendered = { name: string; help: string; type: string; aggregator: string; values: MetricSample[] };

/**
 * What both folded metrics share: the name and help prom-client renders, the
 * label cells, and registration. prom-client's Registry reads a metric
 * through `get()` (and `reset()`), so it renders these as its own.
 */
abstract class FoldedMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  abstract readonly type: string;
  protected readonly labelled: boolean;
  protected readonly cells: LabelCells<L, C>;

  protected constructor(config: FoldedConfig<L>, makeCell: () => C) {
    this.name = config.name;
    this.help = config.help;
    this.labelled = (config.labelNames ?? []).length > 0;
    this.cells = new LabelCells(config.labelNames ?? [], makeCell);
    // As prom-client: an unlabelled metric shows its zero value from the start.
    if (!this.labelled) this.cells.get(undefined);
    for (const registry of config.registers)
      registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  abstract reset(): void;

  /** What prom-client's Registry renders: the tallies as they are now. */
  get(): Promise<Rendered> {
    const { name, help, type, aggregator } = this;
    return Promise.resolve({ name, help, type, aggregator, values: this.samples() });
  }

  protected abstract samples(): MetricSample[];
}

/**
 * A counter a hot path bumps with a plain addition; prom-client reads the
 * totals only when it renders a scrape. prom-client's own Counter hashes
 * and validates its labels on every `inc` (a sort and a join per call),
 * which each no-op call paid twice. Renders exactly as a prom-client
 * Counter with the same name, help and labels.
 */
export class FoldedCounter<L extends string = never> extends FoldedMetric<L, { value: number }> {
  readonly type = 'counter';

  constructor(config: FoldedConfig<L>) {
    super(config, () => ({ value: 0 }));
  }

  /** `inc()` or `inc(by)` for an unlabelled counter, `inc(labels)` or `inc(labels, by)` for a labelled one. */
  inc(labelsOrBy?: Readonly<Record<L, string>> | number, by = 1): void {
    const labels = typeof labelsOrBy === 'number' ? undefined : labelsOrBy;
    const amount = typeof labelsOrBy === 'number' ? labelsOrBy : by;
    if (!(amount >= 0) || !Number.isFinite(amount)) throw new TypeError(`Counter ${this.name} cannot add ${amount}`);
    this.cells.get(labels).value += amount;
  }

  /** As prom-client: an unlabelled counter shows 0 again, a labelled one its label sets once used. */
  reset(): void {
    this.cells.clear();
    if (!this.labelled) this.cells.get(undefined);
  }

  protected samples(): MetricSample[] {
    return this.cells.all.map(({ labels, cell }) => ({ labels: { ...labels }, value: cell.value }));
  }
}

/**
 * A histogram whose observation is a bucket search and three additions into
 * a typed array; prom-client reads it only at scrape time, where the
 * cumulative buckets, `_sum` and `_count` are built. Renders exactly as a
 * prom-client Histogram with the same name, help, labels and buckets.
 */
export class FoldedHistogram<L extends string = never> extends FoldedMetric<L, Float64Array> {
  readonly type = 'histogram';
  /** Per label set: a count per bucket (the last one past every bound), then the sum, then the count. */
  private readonly bounds: Float64Array;

  constructor(config: FoldedConfig<L> & { buckets: readonly number[] }) {
    const bounds = Float64Array.from([...config.buckets].sort((a, b) => a - b));
    super(config, () => new Float64Array(bounds.length + 3));
    this.bounds = bounds;
  }

  /** `observe(value)` for an unlabelled histogram, `observe(labels, value)` for a labelled one. */
  observe(labelsOrValue: Readonly<Record<L, string>> | number, value?: number): void {
    const labels = typeof labelsOrValue === 'number' ? undefined : labelsOrValue;
    const v = typeof labelsOrValue === 'number' ? labelsOrValue : value;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`Histogram ${this.name} cannot observe ${v}`);
    const cell = this.cells.get(labels);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    cell[i]++;
    cell[bounds.length + 1] += v;
    cell[bounds.length + 2]++;
  }

  /** As prom-client: after a reset even an unlabelled histogram shows nothing until observed. */
  reset(): void {
    this.cells.clear();
  }

  /** Cumulative buckets, then +Inf, `_sum` and `_count`, per label set, as prom-client lists them. */
  protected samples(): MetricSample[] {
    const values: MetricSample[] = [];
    const n = this.bounds.length;
    const bucket = `${this.name}_bucket`;
    for (const { labels, cell } of this.cells.all) {
      let cumulative = 0;
      for (let i = 0; i < n; i++) {
        cumulative += cell[i];
        values.push({ labels: { le: this.bounds[i], ...labels }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...labels }, value: cell[n + 2], metricName: bucket });
      values.push({ labels: { ...labels }, value: cell[n + 1], metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: cell[n + 2], metricName: `${this.name}_count` });
    }
    return values;
  }
}
