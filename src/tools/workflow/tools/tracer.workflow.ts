import { actionsFor } from '../workflow-actions';
import type { WorkflowDefinition } from '../workflow.types';

const PRECISION_GUIDE =
  'Present the trace as a vertical, indented call flow: one line per call with file:line, each callee indented under its caller. ' +
  'Follow it with short tables of the branches taken and their conditions, the side effects (state changed, I/O, external calls), ' +
  'where the target is used, and its entry points.';
const DEPENDENCIES_GUIDE =
  'Present the dependencies as a diagram with arrows in both directions: what the target depends on, and what depends on it. ' +
  'Add its type relationships (inheritance, interfaces, composition) and a table of each dependency with its kind and location.';

export const TRACER: WorkflowDefinition = {
  name: 'tracer',
  description:
    'Trace code in steps, with no model call at all: either the execution flow of a function or method (precision) or the ' +
    'dependencies of a class or module (dependencies). You investigate between calls; the final step returns how to present the trace.',
  properties: {
    trace_mode: {
      enum: ['precision', 'dependencies', 'ask'],
      default: 'ask',
      description:
        'precision: execution flow; dependencies: structural relationships; ask: have the user choose first.',
    },
    target_description: { type: 'string', description: 'What to trace and why.' },
  },
  omit: ['issues_found', 'hypothesis', 'backtrack_from_step', 'temperature', 'thinking_mode', 'use_websearch'],
  required: ['findings', 'trace_mode', 'target_description'],
  settings: ['trace_mode', 'target_description'],
  stepFields: ['trace_mode'],
  names: {
    pause: 'pause_for_tracing',
    complete: 'tracing_complete',
    certainSkip: 'tracing_complete',
    skipStatus: 'skipped_no_model',
    completeKey: 'complete_tracing',
    statusKey: 'tracer_status',
  },
  requiredActions: (step, confidence, args) => {
    if (step === 1 && args.trace_mode === 'ask') {
      return [
        'Ask the user which kind of trace they want: precision (how a call executes) or dependencies (what a component is tied to)',
        'Call tracer again at step 1 with the chosen trace_mode',
      ];
    }
    return actionsFor(
      {
        first: ['Locate the target in the code and its definition', 'Note its callers or its imports'],
        early: ['Follow each call or dependency one level further, recording file:line'],
        middle: ['Complete the branches and side effects', 'Check the entry points and usage sites'],
        late: ['Make sure nothing on the path is missing before finishing'],
      },
      step,
      confidence,
    );
  },
  intermediate: (run, args) =>
    Number(args.step_number) === 1 && args.trace_mode === 'ask'
      ? { status: 'mode_selection_required', fields: { mode_selection_required: true } }
      : undefined,
  final: (run, c, args) => {
    const mode = String(run.settings.trace_mode ?? args.trace_mode);
    return {
      fields: {
        step_content: args.step,
        trace_summary: c.findings.map((f) => `Step ${f.step}: ${f.text}`).join('\n'),
        output: {
          instructions: mode === 'dependencies' ? DEPENDENCIES_GUIDE : PRECISION_GUIDE,
          format: mode === 'dependencies' ? 'dependencies_map' : 'precision_trace',
        },
        metadata: {
          tool_name: 'tracer',
          model_used: null,
          provider_used: null,
          trace_mode: mode,
          target_description: run.settings.target_description,
          step_history_length: run.steps.length,
        },
      },
    };
  },
};
