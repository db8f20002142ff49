import { InvalidArgumentsError } from '../src/tools/tools.errors';
import { parseExpertReply } from '../src/tools/workflow/workflow-expert';
import { WorkflowStateService, WorkflowThread } from '../src/tools/workflow/workflow-state.service';
import { toWorkflowConfig, WorkflowEnv } from '../src/tools/workflow/workflow.config';
import { parseEnv } from '../src/config/validate-config';
import { MemoryStateStore } from '../src/state/memory-state.store';
import { workflowSchema } from '../src/tools/workflow/workflow.schema';
import { WORKFLOW_TOOLS } from '../src/tools/workflow/workflow-tools';

/** Workflow state on a memory store whose clock the test moves. */
function state(env: Record<string, string>): WorkflowStateService & { t: number } {
  const clock = { t: 1_000_000 };
  const s = new WorkflowStateService(
    toWorkflowConfig(parseEnv(WorkflowEnv, env)),
    new MemoryStateStore(() => clock.t),
  ) as WorkflowStateService & { t: number };
  Object.defineProperty(s, 't', { get: () => clock.t, set: (v: number) => (clock.t = v) });
  return s;
}

function threadWith(s: WorkflowStateService, session: string, findings = 'x'): WorkflowThread {
  const t = s.create(session);
  t.runs.debug = {
    tool: 'debug',
    settings: {},
    steps: [
      {
        step_number: 1,
        step: 's',
        findings,
        files_checked: [],
        relevant_files: [],
        relevant_context: [],
        issues_found: [],
        confidence: 'low',
        images: [],
        extras: {},
      },
    ],
  };
  return t;
}

describe('workflow state per thread', () => {
  it('is owned by its session: another session gets the same answer as for an unknown id', async () => {
    const s = state({});
    const t = threadWith(s, 'a');
    await s.save(t);
    expect((await s.require(t.id, 'a')).runs.debug.steps).toHaveLength(1);
    await expect(s.require(t.id, 'b')).rejects.toThrow(InvalidArgumentsError);
    await expect(s.require(t.id, 'b')).rejects.toThrow(`unknown continuation_id "${t.id}"`);
    await expect(s.require('nope', 'a')).rejects.toThrow('unknown continuation_id "nope"');
  });

  it('hands out copies, so a failed step leaves the stored thread unchanged', async () => {
    const s = state({});
    const t = threadWith(s, 'a');
    await s.save(t);
    (await s.require(t.id, 'a')).runs.debug.steps.length = 0;
    expect((await s.require(t.id, 'a')).runs.debug.steps).toHaveLength(1);
  });

  it('is bounded by thread count, evicting the least recently used', async () => {
    const s = state({ EXAI_WORKFLOW_MAX_THREADS: '2' });
    const [t1, t2, t3] = [threadWith(s, 'a'), threadWith(s, 'a'), threadWith(s, 'a')];
    await s.save(t1);
    await s.save(t2);
    await s.require(t1.id, 'a');
    await s.save(t3);
    expect((await s.stats()).entries).toBe(2);
    await expect(s.require(t2.id, 'a')).rejects.toThrow('unknown continuation_id');
    expect((await s.require(t1.id, 'a')).id).toBe(t1.id);
  });

  it('is bounded by bytes in total and per thread', async () => {
    const s = state({ EXAI_WORKFLOW_MAX_BYTES: '3000', EXAI_WORKFLOW_THREAD_MAX_BYTES: '2000' });
    const big = threadWith(s, 'a', 'y'.repeat(1200));
    const big2 = threadWith(s, 'a', 'y'.repeat(1200));
    await s.save(big);
    await s.save(big2);
    const stats = await s.stats();
    expect(stats.entries).toBe(1);
    expect(stats.bytes).toBeLessThanOrEqual(3000);
    await expect(s.save(threadWith(s, 'a', 'z'.repeat(2500)))).rejects.toThrow(
      /over EXAI_WORKFLOW_THREAD_MAX_BYTES=2000/,
    );
  });

  it('refuses a thread larger than all threads may hold together instead of losing it silently', async () => {
    const s = state({ EXAI_WORKFLOW_MAX_BYTES: '1500', EXAI_WORKFLOW_THREAD_MAX_BYTES: '4000' });
    await expect(s.save(threadWith(s, 'a', 'z'.repeat(2000)))).rejects.toThrow(/EXAI_WORKFLOW_MAX_BYTES=1500/);
  });

  it('expires idle threads after EXAI_WORKFLOW_TTL_SECS', async () => {
    const s = state({ EXAI_WORKFLOW_TTL_SECS: '60' });
    const t = threadWith(s, 'a');
    await s.save(t);
    s.t += 59_000;
    expect((await s.require(t.id, 'a')).id).toBe(t.id);
    s.t += 61_000;
    await expect(s.require(t.id, 'a')).rejects.toThrow('unknown continuation_id');
    expect((await s.stats()).bytes).toBe(0);
  });
});

describe('expert replies', () => {
  it('parses a JSON object, fenced or not, and keeps any other text as the analysis', () => {
    expect(parseExpertReply('{"status":"no_bug_found","summary":"ok"}')).toEqual({
      status: 'no_bug_found',
      summary: 'ok',
    });
    expect(parseExpertReply('```json\n{"status":"analysis_complete"}\n```')).toEqual({ status: 'analysis_complete' });
    expect(parseExpertReply('Plain words')).toMatchObject({ status: 'analysis_complete', raw_analysis: 'Plain words' });
    expect(parseExpertReply('  ')).toMatchObject({ status: 'empty_response' });
  });
});

describe('workflow schemas', () => {
  function undescribed(schema: Record<string, unknown>, path: string): string[] {
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const out: string[] = [];
    for (const [k, v] of Object.entries(props)) {
      if (typeof v.description !== 'string' || v.description === '') out.push(`${path}.${k}`);
      const items = v.items as Record<string, unknown> | undefined;
      if (items?.properties) out.push(...undescribed(items, `${path}.${k}[]`));
    }
    return out;
  }

  it('describe every property, nested ones included', () => {
    expect(WORKFLOW_TOOLS.flatMap((d) => undescribed(workflowSchema(d), d.name))).toEqual([]);
  });

  it('keep the old required fields and drop the fields each old tool dropped', () => {
    const schemaOf = (name: string) => workflowSchema(WORKFLOW_TOOLS.find((d) => d.name === name)!);
    expect(schemaOf('planner').required).toEqual(['step', 'step_number', 'total_steps', 'next_step_required']);
    expect(Object.keys(schemaOf('docgen').properties as object)).not.toContain('model');
    expect(Object.keys(schemaOf('analyze').properties as object)).not.toContain('confidence');
    expect(schemaOf('tracer').required).toEqual(
      expect.arrayContaining(['trace_mode', 'target_description', 'findings']),
    );
  });
});
