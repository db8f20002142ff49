import type { WorkflowDefinition } from '../workflow.types';

export const PLANNER: WorkflowDefinition = {
  name: 'planner',
  description:
    'Build a plan step by step, with revisions and branches, and no model call at all: each step records your thinking and ' +
    'the final step returns the plan and how to present it.',
  properties: {
    is_step_revision: { type: 'boolean', default: false, description: 'This step revises an earlier one.' },
    revises_step_number: { type: 'integer', minimum: 1, description: 'The step this one revises.' },
    is_branch_point: { type: 'boolean', default: false, description: 'This step starts an alternative branch.' },
    branch_from_step: { type: 'integer', minimum: 1, description: 'The step the branch starts from.' },
    branch_id: { type: 'string', description: 'A name for the branch (e.g. "approach-a").' },
    more_steps_needed: { type: 'boolean', default: false, description: 'More steps are needed than total_steps said.' },
  },
  omit: [
    'findings',
    'files_checked',
    'relevant_files',
    'relevant_context',
    'issues_found',
    'confidence',
    'hypothesis',
    'backtrack_from_step',
    'temperature',
    'thinking_mode',
    'use_websearch',
    'images',
  ],
  required: [],
  settings: [],
  stepFields: [
    'is_step_revision',
    'revises_step_number',
    'is_branch_point',
    'branch_from_step',
    'branch_id',
    'more_steps_needed',
  ],
  names: {
    pause: 'pause_for_planning',
    complete: 'planning_complete',
    certainSkip: 'planning_complete',
    skipStatus: 'skipped_no_model',
    completeKey: 'complete_planning',
    statusKey: 'planner_status',
  },
  requiredActions: (step, _confidence, args) =>
    deepThinking(step, args)
      ? [
          'Think through the scope: what is in, what is out',
          'Consider at least two alternative approaches',
          'Name the constraints and dependencies',
          'Define what success looks like',
          'Identify the main risks',
        ]
      : ['Refine the plan: the next concrete step, its order and dependencies'],
  intermediate: (run, args) => {
    const fields = { step_content: args.step, ...planMetadata(run) };
    if (!deepThinking(Number(args.step_number), args)) return { fields };
    return {
      status: 'pause_for_deep_thinking',
      fields: {
        ...fields,
        thinking_required: true,
        required_thinking: [
          'scope and boundaries',
          'alternative approaches',
          'constraints and dependencies',
          'success criteria',
          'risks and how to reduce them',
        ],
      },
    };
  },
  final: (run, _c, args) => ({
    fields: {
      step_content: args.step,
      plan_summary: run.steps.map((s) => `${s.step_number}. ${s.step}`).join('\n'),
      output: {
        instructions:
          'Present the plan as structured plain text (numbered steps, indented sub-steps, branches labelled), with no emojis, and ' +
          'without time or cost estimates unless the user asked for them.',
        format: 'step_by_step_plan',
      },
      ...planMetadata(run),
    },
  }),
};

function deepThinking(step: number, args: Record<string, unknown>): boolean {
  return Number(args.total_steps) >= 5 && step <= 3;
}

function planMetadata(run: { steps: Array<{ extras: Record<string, unknown> }> }): Record<string, unknown> {
  const branches = [
    ...new Set(run.steps.map((s) => s.extras.branch_id).filter((b): b is string => typeof b === 'string' && b !== '')),
  ];
  const last = run.steps.at(-1)?.extras ?? {};
  return {
    metadata: {
      tool_name: 'planner',
      model_used: null,
      provider_used: null,
      branches,
      step_history_length: run.steps.length,
      is_step_revision: last.is_step_revision ?? false,
      revises_step_number: last.revises_step_number ?? null,
      is_branch_point: last.is_branch_point ?? false,
      branch_from_step: last.branch_from_step ?? null,
      branch_id: last.branch_id ?? null,
      more_steps_needed: last.more_steps_needed ?? false,
    },
  };
}
