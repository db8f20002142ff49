import { InvalidArgumentsError } from '../src/tools/tools.errors';
import { parseExpertReply } from '../src/tools/workflow/workflow-expert';
import { WorkflowStateService, WorkflowThread } from '../src/tools/workflow/workflow-state.service';
import { toWorkflowConfig, WorkflowEnv } from '../src/tools/workflow/workflow.config';
import { parseEnv } from '../src/config/validate-config';
import { workflowSchema } from '../src/tools/workflow/workflow.schema';
import { WORKFLOW_TOOLS } from '../src/tools/workflow/workflow-tools';

class ClockedState extends WorkflowStateService {
  t = 1_000_000;
  protected override now(): number {
    return this.t;
  }
}

function state(env: Record<string, string>): ClockedState {
  return new ClockedState(toWorkflowConfig(parseEnv(WorkflowEnv, env)));
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
  it('is owned by its session: another session gets the same answer as for an unknown id', () => {
    const s = state({});
    const t = threadWith(s, 'a');
    s.save(t);
    expect(s.require(t.id, 'a').runs.debug.steps).toHaveLength(1);
    expect(() => s.require(t.id, 'b')).toThrow(InvalidArgumentsError);
    expect(() => s.require(t.id, 'b')).toThrow(`unknown continuation_id "${t.id}"`);
    expect(() => s.require('nope', 'a')).toThrow('unknown continuation_id "nope"');
  });

  it('hands out copies, so a failed step leaves the stored thread unchanged', () => {
    const s = state({});
    const t = threadWith(s, 'a');
    s.save(t);
    s.require(t.id, 'a').runs.debug.steps.length = 0;
    expect(s.require(t.id, 'a').runs.debug.steps).toHaveLength(1);
  });

  it('is bounded by thread count, evicting the least recently used', () => {
    const s = state({ EXAI_WORKFLOW_MAX_THREADS: '2' });
    const [t1, t2, t3] = [threadWith(s, 'a'), threadWith(s, 'a'), threadWith(s, 'a')];
    s.save(t1);
    s.save(t2);
    s.require(t1.id, 'a');
    s.save(t3);
    expect(s.size).toBe(2);
    expect(() => s.require(t2.id, 'a')).toThrow('unknown continuation_id');
    expect(s.require(t1.id, 'a').id).toBe(t1.id);
  });

  it('is bounded by bytes in total and per thread', () => {
    const s = state({ EXAI_WORKFLOW_MAX_BYTES: '3000', EXAI_WORKFLOW_THREAD_MAX_BYTES: '2000' });
    const big = threadWith(s, 'a', 'y'.repeat(1200));
    const big2 = threadWith(s, 'a', 'y'.repeat(1200));
    s.save(big);
    s.save(big2);
    expect(s.size).toBe(1);
    expect(s.bytes).toBeLessThanOrEqual(3000);
    expect(() => s.save(threadWith(s, 'a', 'z'.repeat(2500)))).toThrow(/over EXAI_WORKFLOW_THREAD_MAX_BYTES=2000/);
  });

  it('expires idle threads after EXAI_WORKFLOW_TTL_SECS', () => {
    const s = state({ EXAI_WORKFLOW_TTL_SECS: '60' });
    const t = threadWith(s, 'a');
    s.save(t);
    s.t += 59_000;
    expect(s.require(t.id, 'a').id).toBe(t.id);
    s.t += 61_000;
    expect(() => s.require(t.id, 'a')).toThrow('unknown continuation_id');
    expect(s.bytes).toBe(0);
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
