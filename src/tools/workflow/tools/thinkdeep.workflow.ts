import type { WorkflowDefinition } from '../workflow.types';
import { actionsFor } from '../workflow-actions';

export const THINKDEEP_SYSTEM_PROMPT =
  'You are a senior engineer acting as a thinking partner. Deepen, test and, where needed, challenge the reasoning you are given: ' +
  'look for gaps, hidden assumptions and risks, stay within the problem as stated, and end with concrete next steps and their ' +
  'trade-offs. Use web search when it is available and facts may have changed. If another kind of review (debugging, code review, ' +
  'security audit) would serve better, say so.';

export const THINKDEEP: WorkflowDefinition = {
  name: 'thinkdeep',
  description: 'Deep reasoning with a thinking model',
  properties: {
    // The old thinkdeep took any confidence text; the usual levels still drive the certainty skip.
    confidence: {
      type: 'string',
      default: 'low',
      description:
        'How sure you are (exploring, low, medium, high, very_high, almost_certain, certain); "certain" on the final step skips the expert.',
    },
    problem_context: { type: 'string', description: 'Background the reasoning should take into account.' },
    focus_areas: {
      type: 'array',
      items: { type: 'string' },
      description: 'Aspects to concentrate on (e.g. architecture, performance, security).',
    },
  },
  required: ['findings'],
  settings: ['problem_context', 'focus_areas'],
  stepFields: [],
  names: {
    pause: 'pause_for_thinkdeep',
    complete: 'thinkdeep_complete',
    certainSkip: 'deep_thinking_complete_ready_for_implementation',
    skipStatus: 'skipped_due_to_certain_thinking_confidence',
    completeKey: 'complete_thinkdeep',
    statusKey: 'thinkdeep_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: ['State the problem and what a good answer looks like', 'List what you know and what you assume'],
        early: ['Question the assumptions one by one', 'Look for evidence for and against your current view'],
        middle: ['Compare the alternatives and their trade-offs', 'Identify the risks of the preferred option'],
        late: ['Check the conclusion for gaps before finishing'],
      },
      step,
      confidence,
    ),
  statusExtras: (c, run) => ({
    thinking_status: {
      current_step: c.stepsTaken,
      files_checked: c.filesChecked.length,
      relevant_files: c.relevantFiles.length,
      confidence: c.confidence,
      analysis_focus: run.settings.focus_areas ?? [],
    },
  }),
  completionExtras: (c) => ({
    thinking_complete: true,
    complete_thinking: {
      steps_completed: c.stepsTaken,
      final_confidence: c.confidence,
      relevant_context: c.relevantContext,
      key_findings: c.findings.map((f) => f.text),
      issues_identified: c.issues,
      files_analyzed: c.relevantFiles,
    },
  }),
  expert: {
    systemPrompt: THINKDEEP_SYSTEM_PROMPT,
    instruction:
      'Extend and test the reasoning above: where does it hold, where does it not, what was missed, and what should be done next?',
    embedFiles: false,
    deepThinking: true,
    temperature: 0.7,
    skipOn: ['certain'],
    wants: () => true,
    considerations: 'Treat the answer as a second opinion: keep what survives your own checks.',
  },
};
