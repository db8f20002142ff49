import { actionsFor } from '../workflow-actions';
import { anyMaterial, bySeverity } from '../workflow-steps';
import type { WorkflowDefinition } from '../workflow.types';

export const ANALYZE: WorkflowDefinition = {
  name: 'analyze',
  description:
    'Analyse a codebase in steps (architecture, performance, security, quality): you explore between calls, each intermediate step ' +
    'answered at once with no model call; the final step sends your findings and the relevant files to an expert model for a strategic assessment.',
  properties: {
    analysis_type: {
      enum: ['architecture', 'performance', 'security', 'quality', 'general'],
      default: 'general',
      description: 'The lens of the analysis.',
    },
    output_format: {
      enum: ['summary', 'detailed', 'actionable'],
      default: 'detailed',
      description: 'How the expert should shape its answer.',
    },
  },
  omit: ['hypothesis', 'confidence'],
  fixedConfidence: 'medium',
  required: ['findings'],
  settings: ['analysis_type', 'output_format'],
  names: {
    pause: 'pause_for_analysis',
    complete: 'analysis_complete',
    certainSkip: 'analysis_complete_ready_for_implementation',
    skipStatus: 'skipped_due_to_certain_analysis_confidence',
    completeKey: 'complete_analysis',
    statusKey: 'analysis_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Map the structure: entry points, modules and how they depend on each other',
          'Identify the frameworks, patterns and conventions in use',
          'Note the parts most relevant to the requested analysis type',
        ],
        early: [
          'Look deeper into the areas that matter most for the goal',
          'Trace how data and control flow between the main components',
        ],
        middle: [
          'Check scalability, maintainability and operational concerns',
          'Gather concrete evidence (files, functions) for each observation',
        ],
        late: ['Rank the findings by impact', 'Make sure every conclusion points to code'],
      },
      step,
      confidence,
    ),
  statusExtras: (c) => ({ insights_by_severity: bySeverity(c.issues), analysis_confidence: c.confidence }),
  expert: {
    systemPrompt:
      'You are a principal engineer giving a strategic assessment of a codebase. Judge how well the architecture fits the problem, ' +
      'how it will scale, how costly it is to maintain, where technical debt and security exposure sit, and whether it is ready to operate. ' +
      'Stay at the level of design and systemic risk: skip line-level nitpicks unless they point to a systemic problem. ' +
      'Respect the requested analysis type and output format. Open with a short executive overview, then the findings ordered by impact, ' +
      'each with the insight, its evidence in the code, its impact, a recommendation and an effort-versus-benefit note; then quick wins and a ' +
      'short plan of next steps. If you cannot judge without more code, reply only with ' +
      '{"status":"files_required_to_continue","mandatory_instructions":"…","files_needed":["…"]}.',
    instruction: 'Give the strategic assessment of this code as described, grounded in the files and findings above.',
    embedFiles: true,
    deepThinking: true,
    temperature: 0.2,
    skipOn: [],
    wants: anyMaterial,
    considerations:
      'An assessment is a set of judgements: check the most consequential ones in the code before acting, and weigh the effort estimates yourself.',
  },
};
