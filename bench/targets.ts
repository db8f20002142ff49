import { fmt } from './stats';

/** One issue-17 target and the figure a run measured for it. */
export interface TargetCheck {
  /** What is measured, e.g. "round trip p50, daemon / raw ws echo". */
  name: string;
  value: number;
  /** Pass when value <= limit ('max') or value >= limit ('min'). */
  kind: 'max' | 'min';
  limit: number;
  /** Printed after the numbers: "x", "µs", "ms", "calls/s", "KB". */
  unit: string;
  digits?: number;
}

/**
 * Collects every target a run measured, prints each next to its figure as it
 * is measured, and a summary at the end. Benchmarks never fail a run on time:
 * a missed target is printed as MISS, not thrown.
 */
export class Targets {
  private readonly checks: Array<TargetCheck & { pass: boolean }> = [];

  /** Records a target; returns the "[target <= 2x: PASS]" text to print next to the figure. */
  check(t: TargetCheck): string {
    const pass = t.kind === 'max' ? t.value <= t.limit : t.value >= t.limit;
    this.checks.push({ ...t, pass });
    return `[target ${t.kind === 'max' ? '<=' : '>='} ${t.limit} ${t.unit}: ${pass ? 'PASS' : 'MISS'}]`;
  }

  /** Prints `label figure [target …]` on one line. */
  line(label: string, t: TargetCheck): void {
    const figure = `${fmt(t.value, t.digits ?? 1)} ${t.unit}`;
    console.log(`  ${label.padEnd(58)} ${figure.padStart(14)}  ${this.check(t)}`);
  }

  summary(): void {
    if (this.checks.length === 0) return;
    console.log('\nTargets (issue 17):');
    for (const c of this.checks) {
      const op = c.kind === 'max' ? '<=' : '>=';
      const figure = `${fmt(c.value, c.digits ?? 1)} ${c.unit}`;
      console.log(
        `  ${c.pass ? 'PASS' : 'MISS'}  ${c.name.padEnd(58)} ${figure.padStart(14)}  (${op} ${c.limit} ${c.unit})`,
      );
    }
    const missed = this.checks.filter((c) => !c.pass).length;
    console.log(`  ${this.checks.length - missed} of ${this.checks.length} met`);
  }
}
