import type { JsonSchema } from '../tool.types';

export const CONFIDENCE_LEVELS = [
  'exploring',
  'low',
  'medium',
  'high',
  'very_high',
  'almost_certain',
  'certain',
] as const;

export interface IssueRecord {
  severity: string;
  description: string;
  [key: string]: unknown;
}

/** One step as the agent reported it; re-sending a step number replaces its record. */
export interface StepRecord {
  step_number: number;
  step: string;
  findings: string;
  files_checked: string[];
  relevant_files: string[];
  relevant_context: string[];
  issues_found: IssueRecord[];
  confidence: string;
  hypothesis?: string;
  images: string[];
  /** Tool-specific per-step fields (planner branches, tracer mode, docgen counters). */
  extras: Record<string, unknown>;
}

/** One consensus model's answer. */
export interface ConsultedModel {
  model: string;
  stance: string;
  status: 'success' | 'error';
  verdict?: string;
  error?: string;
  metadata: { provider: string; model_name: string };
}

/** One tool's work within a thread: plain data, so it can be sized and copied. */
export interface ToolRun {
  tool: string;
  steps: StepRecord[];
  /** Per-tool settings (review_type, threat_level, …) as last sent; they reach the expert call. */
  settings: Record<string, unknown>;
  /** Consensus only: the models to consult and what each said. */
  models?: Array<{ model: string; stance: string; stance_prompt?: string }>;
  responses?: ConsultedModel[];
}

/** Everything the steps of one run add up to. */
export interface Consolidated {
  initialRequest: string;
  stepsTaken: number;
  findings: Array<{ step: number; text: string }>;
  filesChecked: string[];
  relevantFiles: string[];
  relevantContext: string[];
  issues: IssueRecord[];
  hypotheses: Array<{ step: number; hypothesis: string; confidence: string }>;
  images: string[];
  confidence: string;
}

/** The old daemon's per-tool status names, kept so existing agents and scripts keep working. */
export interface WorkflowNames {
  /** Status of an intermediate step (e.g. `pause_for_investigation`). */
  pause: string;
  /** Status of a final step completed without the expert (e.g. `investigation_complete`). */
  complete: string;
  /** Status when the expert is skipped for certainty. */
  certainSkip: string;
  /** `expert_analysis.status` when skipped for certainty. */
  skipStatus: string;
  /** Key of the completion summary (e.g. `complete_investigation`). */
  completeKey: string;
  /** Key of the per-step counts (e.g. `investigation_status`). */
  statusKey: string;
}

export interface ExpertSpec {
  /** System prompt of the expert call. */
  systemPrompt: string;
  /** The closing instruction after the context: what to deliver. */
  instruction: string;
  /** Whether the relevant files' contents go to the expert (otherwise only their paths). */
  embedFiles: boolean;
  /** Ask for the deepest reasoning (thinking mode) regardless of the request's thinking_mode. */
  deepThinking: boolean;
  temperature: number;
  /** Final-step confidence levels that make the expert unnecessary. */
  skipOn: readonly string[];
  /** The data test: is there enough to analyse? */
  wants(c: Consolidated): boolean;
  /** Tool-specific context sections. */
  sections?(c: Consolidated, run: ToolRun): string[];
  /** precommit: the repository's git state (from the `path` setting) goes to the expert. */
  readsGit?: boolean;
  /** Advice on treating the expert's answer. */
  considerations: string;
}

export interface LocalCompletion {
  /** Overrides the completion status. */
  status?: string;
  fields: Record<string, unknown>;
}

/**
 * A workflow tool, declared: the engine owns the step machine, this says only
 * what differs per tool.
 */
export interface WorkflowDefinition {
  name: string;
  description: string;
  /** Tool-specific schema properties (each with a description). */
  properties: Record<string, JsonSchema>;
  /** Common fields this tool's schema leaves out (§2 of the old field list). */
  omit?: readonly string[];
  /** Schema-required fields besides step, step_number, total_steps, next_step_required. */
  required: readonly string[];
  /** Per-tool settings that reach the expert call. */
  settings: readonly string[];
  /** Fields holding paths besides files_checked, relevant_files and images. */
  pathFields?: readonly string[];
  /** Per-step fields recorded in StepRecord.extras. */
  stepFields?: readonly string[];
  /** Problem with a step's arguments (e.g. step 1 without relevant_files), or undefined. */
  checkStep?(args: Record<string, unknown>, run: ToolRun | undefined): string | undefined;
  names: WorkflowNames;
  /** What the agent must do before the next step. */
  requiredActions(stepNumber: number, confidence: string, args: Record<string, unknown>): string[];
  /** Confidence the tool assumes when its schema has none. */
  fixedConfidence?: string;
  expert?: ExpertSpec;
  /** Extra per-step counts in the status object. */
  statusExtras?(c: Consolidated, run: ToolRun): Record<string, unknown>;
  /** Extra fields of every completed final step (thinkdeep's `complete_thinking`). */
  completionExtras?(c: Consolidated, run: ToolRun): Record<string, unknown>;
  /** Replaces the pause answer of an intermediate step (tracer's mode selection). */
  intermediate?(run: ToolRun, args: Record<string, unknown>): LocalCompletion | undefined;
  /** Fields of a final step completed locally (planner's plan, tracer's rendering guide). */
  final?(run: ToolRun, c: Consolidated, args: Record<string, unknown>): LocalCompletion;
}

/** Consensus: one model per step, each with its stance, each blind to the others. */
export interface ConsultSpec {
  systemPrompt(stance: string, stancePrompt: string | undefined): string;
  temperature: number;
}

export interface ConsultingDefinition extends WorkflowDefinition {
  consult: ConsultSpec;
}
