import { actionsFor } from '../workflow-actions';
import { SEVERITY_FILTER } from '../workflow.schema';
import { bySeverity, enoughForExpert } from '../workflow-steps';
import type { WorkflowDefinition } from '../workflow.types';

export const CODEREVIEW: WorkflowDefinition = {
  name: 'codereview',
  description:
    'Review code in steps: you read and record issues between calls (each intermediate step answered at once, no model call); ' +
    'the final step sends your findings and the files to an expert model for a severity-ranked review with fixes.',
  properties: {
    review_type: {
      enum: ['full', 'security', 'performance', 'quick'],
      default: 'full',
      description: 'How broad the review is.',
    },
    focus_on: { type: 'string', description: 'Areas or concerns to concentrate on.' },
    standards: { type: 'string', description: 'Coding standards or conventions the code must follow.' },
    severity_filter: SEVERITY_FILTER,
  },
  required: ['findings'],
  settings: ['review_type', 'focus_on', 'standards', 'severity_filter'],
  checkStep: (args) =>
    Number(args.step_number) === 1 && (!Array.isArray(args.relevant_files) || args.relevant_files.length === 0)
      ? 'step 1 needs relevant_files: the files to review'
      : undefined,
  names: {
    pause: 'pause_for_code_review',
    complete: 'code_review_complete',
    certainSkip: 'code_review_complete_ready_for_implementation',
    skipStatus: 'skipped_due_to_certain_review_confidence',
    completeKey: 'complete_code_review',
    statusKey: 'code_review_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Read every file under review and understand what it is for',
          'Note the language, frameworks and conventions used',
          'Start a list of concerns with severities',
        ],
        early: [
          'Look for correctness bugs, unsafe input handling and error paths that are not covered',
          'Check security-sensitive code: authentication, secrets, injection points',
        ],
        middle: [
          'Check performance, resource use and concurrency',
          'Check tests, dependencies and maintainability',
          'Confirm each recorded issue against the code',
        ],
        late: ['Give every issue a file:line location and a severity', 'Drop anything you cannot confirm'],
      },
      step,
      confidence,
    ),
  statusExtras: (c) => ({ issues_by_severity: bySeverity(c.issues), review_confidence: c.confidence }),
  expert: {
    systemPrompt:
      'You are a senior reviewer doing a careful code review. Report only real, in-scope problems, ranked critical, high, medium or low, ' +
      'across security, correctness, performance, code quality, tests, dependencies, architecture and operations. Honour the review type, ' +
      'focus, standards and severity filter you are given. For each issue give the file and line, what is wrong, why it matters and a ' +
      'concrete fix. Finish with an overall summary, the three fixes to make first, and what the code does well. If the change is too big ' +
      'to review well, reply only with {"status":"focused_review_required","reason":"…","suggestion":"…"}; if you need more code, reply ' +
      'only with {"status":"files_required_to_continue","mandatory_instructions":"…","files_needed":["…"]}.',
    instruction:
      'Review the code above as described, confirming or correcting the agent’s issues and adding any it missed.',
    embedFiles: true,
    deepThinking: true,
    temperature: 0.2,
    skipOn: ['certain'],
    wants: enoughForExpert,
    considerations:
      'Verify each reported issue in the code before fixing it; a reviewer working from excerpts can misread intent.',
  },
};
