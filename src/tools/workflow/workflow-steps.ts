import { stableJson } from '../../common/stable-json';
import type { Consolidated, IssueRecord, StepRecord, ToolRun, WorkflowDefinition } from './workflow.types';

// Pure step bookkeeping: no I/O, so prepare() can preview a step before admission
// and execute() can apply the same step to the stored thread.

const LIST_FIELDS = ['files_checked', 'relevant_files', 'relevant_context', 'images'] as const;

/**
 * Arguments as the engine uses them: bare-string lists become one-item lists
 * (old clients send them), and total_steps is raised to step_number.
 */
export function normalizeArgs(def: WorkflowDefinition, raw: Record<string, unknown>): Record<string, unknown> {
  const args = { ...raw };
  for (const key of [...LIST_FIELDS, ...(def.pathFields ?? [])]) {
    const v = args[key];
    if (typeof v === 'string' && key !== 'path') args[key] = v.trim() === '' ? [] : [v];
  }
  const step = Number(args.step_number);
  if (Number(args.total_steps) < step) args.total_steps = step;
  if (def.fixedConfidence) args.confidence = def.fixedConfidence;
  return args;
}

export function newRun(tool: string): ToolRun {
  return { tool, steps: [], settings: {} };
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The step's record; re-sending a step number replaces it, and a backtrack drops later steps. */
export function applyStep(
  def: WorkflowDefinition,
  run: ToolRun,
  args: Record<string, unknown>,
  defaults: Record<string, unknown>,
): void {
  const n = Number(args.step_number);
  const back = typeof args.backtrack_from_step === 'number' ? args.backtrack_from_step : undefined;
  run.steps = run.steps.filter((s) => s.step_number !== n && (back === undefined || s.step_number < back));
  const extras: Record<string, unknown> = {};
  for (const key of def.stepFields ?? []) if (args[key] !== undefined) extras[key] = args[key];
  const record: StepRecord = {
    step_number: n,
    step: typeof args.step === 'string' ? args.step : '',
    findings: typeof args.findings === 'string' ? args.findings : '',
    files_checked: strings(args.files_checked),
    relevant_files: strings(args.relevant_files),
    relevant_context: strings(args.relevant_context),
    issues_found: Array.isArray(args.issues_found) ? (args.issues_found as IssueRecord[]) : [],
    confidence: typeof args.confidence === 'string' ? args.confidence : 'low',
    images: strings(args.images),
    extras,
  };
  if (typeof args.hypothesis === 'string') record.hypothesis = args.hypothesis;
  run.steps.push(record);
  run.steps.sort((a, b) => a.step_number - b.step_number);
  // Settings come from the first step; a later step changes one only by sending
  // a value other than the schema default (which validation fills in on every call).
  const first = run.steps.length === 1;
  for (const key of def.settings) {
    if (args[key] === undefined) continue;
    if (first || !(key in run.settings) || stableJson(args[key]) !== stableJson(defaults[key])) {
      run.settings[key] = args[key];
    }
  }
}

function union(lists: string[][]): string[] {
  return [...new Set(lists.flat())];
}

export function consolidate(run: ToolRun): Consolidated {
  const steps = run.steps;
  const seenIssues = new Set<string>();
  const issues: IssueRecord[] = [];
  for (const issue of steps.flatMap((s) => s.issues_found)) {
    const key = `${issue.severity}\0${issue.description}`;
    if (seenIssues.has(key)) continue;
    seenIssues.add(key);
    issues.push(issue);
  }
  return {
    initialRequest: steps[0]?.step ?? '',
    stepsTaken: steps.length,
    findings: steps.filter((s) => s.findings.trim() !== '').map((s) => ({ step: s.step_number, text: s.findings })),
    filesChecked: union(steps.map((s) => [...s.files_checked, ...s.relevant_files])),
    relevantFiles: union(steps.map((s) => s.relevant_files)),
    relevantContext: union(steps.map((s) => s.relevant_context)),
    issues,
    hypotheses: steps
      .filter((s) => s.hypothesis !== undefined)
      .map((s) => ({ step: s.step_number, hypothesis: s.hypothesis!, confidence: s.confidence })),
    images: union(steps.map((s) => s.images)),
    confidence: steps.at(-1)?.confidence ?? 'low',
  };
}

/** The old default data test: any relevant file, two findings, or an issue. */
export function enoughForExpert(c: Consolidated): boolean {
  return c.relevantFiles.length > 0 || c.findings.length >= 2 || c.issues.length > 0;
}

/** The lighter test of analyze and testgen: any relevant file or any finding. */
export function anyMaterial(c: Consolidated): boolean {
  return c.relevantFiles.length > 0 || c.findings.length > 0;
}

export function countsOf(c: Consolidated): Record<string, unknown> {
  return {
    files_checked: c.filesChecked.length,
    relevant_files: c.relevantFiles.length,
    relevant_context: c.relevantContext.length,
    issues_found: c.issues.length,
    images_collected: c.images.length,
    current_confidence: c.confidence,
  };
}

export function bySeverity(issues: IssueRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of issues) out[i.severity] = (out[i.severity] ?? 0) + 1;
  return out;
}

export function workSummary(c: Consolidated): string {
  return c.findings.map((f) => `Step ${f.step}: ${f.text}`).join('\n');
}

/** The completion summary under `complete_<x>`. */
export function completionSummary(c: Consolidated): Record<string, unknown> {
  return {
    initial_request: c.initialRequest,
    steps_taken: c.stepsTaken,
    files_examined: c.filesChecked,
    relevant_files: c.relevantFiles,
    relevant_context: c.relevantContext,
    issues_found: c.issues,
    work_summary: workSummary(c),
    confidence_level: c.confidence,
  };
}
