import { Counter, Histogram, Registry } from 'prom-client';
import { FoldedCounter, FoldedHistogram } from '../src/metrics/folded-metrics';

const BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5];

/** The same metrics twice, one registry each: prom-client's own classes, and the folded ones. */
function pair() {
  const plain = new Registry();
  const folded = new Registry();
  const calls = { name: 'x_calls_total', help: 'calls', labelNames: ['tool', 'outcome'] as const };
  const count = { name: 'x_plain_total', help: 'plain' };
  const duration = { name: 'x_duration', help: 'dur', labelNames: ['tool'] as const, buckets: BUCKETS };
  const wait = { name: 'x_wait', help: 'wait', buckets: BUCKETS };
  const p = {
    labelled: new Counter({ ...calls, labelNames: [...calls.labelNames], registers: [plain] }),
    unlabelled: new Counter({ ...count, registers: [plain] }),
    duration: new Histogram({ ...duration, labelNames: [...duration.labelNames], registers: [plain] }),
    wait: new Histogram({ ...wait, registers: [plain] }),
  };
  const f = {
    labelled: new FoldedCounter({ ...calls, registers: [folded] }),
    unlabelled: new FoldedCounter({ ...count, registers: [folded] }),
    duration: new FoldedHistogram({ ...duration, registers: [folded] }),
    wait: new FoldedHistogram({ ...wait, registers: [folded] }),
  };
  return { plain, folded, p, f };
}

describe('folded metrics', () => {
  it('render exactly as prom-client renders the same counts, before any use, after use and after a reset', async () => {
    const { plain, folded, p, f } = pair();
    expect(await folded.metrics()).toBe(await plain.metrics());

    const observations: Array<[string, number]> = [
      ['chat', 0.003],
      ['chat', 0.01],
      ['we"ird\ntool', 0.07],
      ['chat', 0.5],
      ['version', 4.2],
      ['version', 9],
      ['chat', 0],
    ];
    for (const [i, [tool, secs]] of observations.entries()) {
      const outcome = i % 3 === 0 ? 'success' : 'EXEC_ERROR';
      p.labelled.inc({ tool, outcome });
      f.labelled.inc({ tool, outcome });
      p.duration.observe({ tool }, secs);
      f.duration.observe({ tool }, secs);
      p.wait.observe(secs);
      f.wait.observe(secs);
    }
    p.labelled.inc({ tool: 'chat', outcome: 'success' }, 5);
    f.labelled.inc({ tool: 'chat', outcome: 'success' }, 5);
    p.unlabelled.inc();
    f.unlabelled.inc();
    p.unlabelled.inc(2);
    f.unlabelled.inc(2);
    const rendered = await folded.metrics();
    expect(rendered).toBe(await plain.metrics());
    expect(rendered).toContain('x_calls_total{tool="chat",outcome="success"} 8');
    expect(rendered).toContain('x_duration_bucket{le="0.01",tool="chat"} 3');
    expect(rendered).toContain('x_wait_count 7');
    expect(rendered).toContain('x_plain_total 3');

    plain.resetMetrics();
    folded.resetMetrics();
    expect(await folded.metrics()).toBe(await plain.metrics());
  });

  it('refuses what prom-client refuses: a missing label, a negative or non-finite amount', () => {
    const { f } = pair();
    expect(() => f.labelled.inc({ tool: 'chat' } as never)).toThrow(/outcome/);
    expect(() => f.labelled.inc({ tool: 'chat', outcome: 'success' }, -1)).toThrow(TypeError);
    expect(() => f.wait.observe(Number.NaN)).toThrow(TypeError);
    expect(() => f.duration.observe({ tool: 'chat' }, Infinity)).toThrow(TypeError);
  });
});
