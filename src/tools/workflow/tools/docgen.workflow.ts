import { actionsFor } from '../workflow-actions';
import type { WorkflowDefinition } from '../workflow.types';

export const DOCGEN: WorkflowDefinition = {
  name: 'docgen',
  description:
    'Document code file by file, with no model call: you write the documentation between calls and report progress; the tool ' +
    'keeps count and does not let the work finish while files remain.',
  properties: {
    document_complexity: { type: 'boolean', default: true, description: 'Document algorithmic complexity (Big-O).' },
    document_flow: { type: 'boolean', default: true, description: 'Document call flow and dependencies.' },
    update_existing: {
      type: 'boolean',
      default: true,
      description: 'Improve existing documentation where it is wrong or thin.',
    },
    comments_on_complex_logic: {
      type: 'boolean',
      default: true,
      description: 'Add inline comments to complex logic.',
    },
    num_files_documented: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Files fully documented so far.',
    },
    total_files_to_document: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Files found in step 1 that need documenting.',
    },
  },
  omit: [
    'confidence',
    'hypothesis',
    'backtrack_from_step',
    'files_checked',
    'temperature',
    'thinking_mode',
    'use_websearch',
    'images',
    'model',
  ],
  required: [
    'findings',
    'document_complexity',
    'document_flow',
    'update_existing',
    'comments_on_complex_logic',
    'num_files_documented',
    'total_files_to_document',
  ],
  settings: ['document_complexity', 'document_flow', 'update_existing', 'comments_on_complex_logic'],
  stepFields: ['num_files_documented', 'total_files_to_document'],
  names: {
    pause: 'pause_for_documentation_analysis',
    complete: 'documentation_analysis_complete',
    certainSkip: 'documentation_analysis_complete',
    skipStatus: 'skipped_no_model',
    completeKey: 'complete_documentation_analysis',
    statusKey: 'documentation_analysis_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Find every file that needs documentation and count them (total_files_to_document)',
          'Note the documentation style each language uses',
        ],
        early: [
          'Document the next file completely: every function, class and module, no skipping',
          'Change only comments and documentation, never code; report bugs you notice instead of fixing them',
        ],
        middle: ['Document the next file completely, then raise num_files_documented'],
        late: ['Finish the remaining files, then check that each is complete'],
      },
      step,
      confidence,
    ),
  statusExtras: (_c, run) => ({
    documentation_strategies: Object.keys(run.settings).filter((k) => run.settings[k] === true),
  }),
  final: (run, _c, args) => {
    const done = Number(args.num_files_documented ?? 0);
    const total = Number(args.total_files_to_document ?? 0);
    if (done < total) {
      return {
        status: 'documentation_analysis_required',
        fields: {
          documentation_analysis_complete: false,
          pause_for_docgen: true,
          next_steps:
            `Only ${done} of ${total} files are documented. Document the remaining ${total - done} file(s), ` +
            'then call docgen again with the updated num_files_documented and this continuation_id.',
        },
      };
    }
    return {
      fields: {
        next_steps: 'All files are documented. Summarise what was documented and any bugs you noticed along the way.',
      },
    };
  },
};
