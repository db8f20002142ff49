import { actionsFor } from '../workflow-actions';
import { issuesSchema, pathList } from '../workflow.schema';
import { enoughForExpert } from '../workflow-steps';
import type { WorkflowDefinition } from '../workflow.types';

const TYPES = ['codesmells', 'decompose', 'modernize', 'organization'] as const;

export const REFACTOR: WorkflowDefinition = {
  name: 'refactor',
  description:
    'Find refactoring opportunities in steps (code smells, decomposition, modernisation, organisation): you analyse between calls ' +
    '(intermediate steps answered at once, no model call); the final step asks an expert model for a prioritised refactoring plan.',
  properties: {
    refactor_type: { enum: [...TYPES], default: 'codesmells', description: 'The kind of refactoring to look for.' },
    focus_areas: {
      type: 'array',
      items: { type: 'string' },
      description: 'Concerns to weigh (e.g. performance, readability, maintainability, security).',
    },
    style_guide_examples: pathList(
      'Absolute paths of files whose style the refactoring should follow (listed, not embedded).',
    ),
    issues_found: issuesSchema(
      { type: { enum: [...TYPES], description: 'The kind of opportunity.' } },
      'Opportunities found so far, each {severity, type, description}.',
    ),
  },
  required: ['findings'],
  settings: ['refactor_type', 'focus_areas', 'style_guide_examples'],
  pathFields: ['style_guide_examples'],
  names: {
    pause: 'pause_for_refactoring_analysis',
    complete: 'refactoring_analysis_complete',
    certainSkip: 'refactoring_analysis_complete_ready_for_implementation',
    skipStatus: 'skipped_due_to_complete_refactoring_confidence',
    completeKey: 'complete_refactoring',
    statusKey: 'refactoring_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Read the code in scope and measure its size: files, classes and functions that are very long',
          'Note duplicated logic, deep nesting and unclear names',
        ],
        early: ['Look for oversized files, classes and functions that should be split', 'Find outdated idioms'],
        middle: ['Group the opportunities by type and impact', 'Check what each change would touch'],
        late: ['Order the opportunities so each step leaves the code working'],
      },
      step,
      confidence,
    ),
  statusExtras: (c) => {
    const byType: Record<string, number> = {};
    for (const i of c.issues) {
      const t = typeof i.type === 'string' ? i.type : 'unspecified';
      byType[t] = (byType[t] ?? 0) + 1;
    }
    return { opportunities_by_type: byType, refactor_confidence: c.confidence };
  },
  expert: {
    systemPrompt:
      'You are a refactoring specialist. Propose changes that make the code easier to understand and change without altering behaviour. ' +
      'Size comes first: a file over about 5000 lines, a class over 1000 or a function over 150 deserves a decomposition review, and over ' +
      '15000, 3000 or 500 respectively it is critical and blocks other work. Then smells, outdated idioms and organisation, following the ' +
      'requested refactor type and any style examples. Reply with one JSON object: {"status":"refactor_analysis_complete",' +
      '"refactor_opportunities":[{"id":"…","type":"decompose|codesmells|modernize|organization","severity":"critical|high|medium|low",' +
      '"file":"…","start_line":0,"end_line":0,"context_start_text":"…","context_end_text":"…","issue":"…","suggestion":"…","rationale":"…",' +
      '"code_to_replace":"…","replacement_code_snippet":"…","new_code_snippets":[]}],"priority_sequence":["id"],"next_actions":[{"action_type":' +
      '"EXTRACT_METHOD|SPLIT_CLASS|MODERNIZE_SYNTAX|REORGANIZE_CODE|DECOMPOSE_FILE","target_file":"…","description":"…"}],' +
      '"more_refactor_required":false,"continuation_message":"…"}. If you need more code, reply only with ' +
      '{"status":"files_required_to_continue","mandatory_instructions":"…","files_needed":["…"]}.',
    instruction: 'Produce the refactoring plan for the code above as the JSON object described.',
    embedFiles: true,
    deepThinking: true,
    temperature: 0.2,
    skipOn: ['certain', 'almost_certain'],
    wants: enoughForExpert,
    considerations: 'Apply one refactoring at a time and run the tests after each; behaviour must not change.',
  },
};
