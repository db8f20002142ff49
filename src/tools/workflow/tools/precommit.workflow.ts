import { actionsFor } from '../workflow-actions';
import { SEVERITY_FILTER } from '../workflow.schema';
import { bySeverity } from '../workflow-steps';
import type { WorkflowDefinition } from '../workflow.types';
import { isSafeRef } from '../git-state';

export const PRECOMMIT: WorkflowDefinition = {
  name: 'precommit',
  description:
    'Validate changes before a commit, in steps: you inspect the diff between calls (intermediate steps answered at once, no model call); ' +
    'the final step reads the repository’s git state at `path` and sends it with your findings to an expert model.',
  properties: {
    path: {
      type: 'string',
      description: 'Absolute path of the repository root (under EXAI_FILE_ROOTS); required at step 1.',
    },
    compare_to: {
      type: 'string',
      description:
        'A git ref (branch, tag, commit) to compare against; when set, staged and unstaged changes are not read.',
    },
    include_staged: { type: 'boolean', default: true, description: 'Review staged changes.' },
    include_unstaged: { type: 'boolean', default: true, description: 'Review unstaged changes.' },
    focus_on: { type: 'string', description: 'Concerns to concentrate on.' },
    severity_filter: SEVERITY_FILTER,
  },
  required: ['findings'],
  settings: ['path', 'compare_to', 'include_staged', 'include_unstaged', 'focus_on', 'severity_filter'],
  pathFields: ['path'],
  checkStep: (args, run) => {
    if (Number(args.step_number) === 1 && !run && (typeof args.path !== 'string' || args.path === '')) {
      return 'step 1 needs path: the absolute path of the repository';
    }
    if (typeof args.compare_to === 'string' && args.compare_to !== '' && !isSafeRef(args.compare_to)) {
      return `compare_to "${args.compare_to}" is not a plain git ref`;
    }
    return undefined;
  },
  names: {
    pause: 'pause_for_validation',
    complete: 'validation_complete',
    certainSkip: 'validation_complete_ready_for_commit',
    skipStatus: 'skipped_due_to_certain_validation_confidence',
    completeKey: 'complete_validation',
    statusKey: 'validation_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Run git status and git diff (staged and unstaged, or against compare_to) in the repository',
          'List every changed file and what each change is meant to do',
        ],
        early: [
          'Read the changed code in context, not only the diff lines',
          'Look for incomplete or unintended changes',
        ],
        middle: ['Check for regressions, security problems and missing tests', 'Check callers of changed functions'],
        late: ['Decide whether the change is ready, listing anything that must be fixed first'],
      },
      step,
      confidence,
    ),
  statusExtras: (c) => ({
    issues_identified: c.issues.length,
    issues_by_severity: bySeverity(c.issues),
    assessment_confidence: c.confidence,
  }),
  expert: {
    systemPrompt:
      'You are the last reviewer before a commit. Review only the change and the code it touches: security problems, logic errors ' +
      'and regressions, race conditions, performance, code quality, and risks particular to the change such as an enum updated in one ' +
      'place but not another, a risky deletion, or work outside the change’s stated scope. Respect the focus and severity filter given. ' +
      'Give a short summary of the repository state and the change, then the issues by severity, each with file:line and a fix, then ' +
      'recommendations and a clear verdict on whether to commit.',
    instruction:
      'Review the change shown in the git sections and findings above, and say whether it is ready to commit.',
    embedFiles: true,
    deepThinking: true,
    temperature: 0.2,
    skipOn: ['certain'],
    // The diff itself is the material, so there is always something to review.
    wants: () => true,
    readsGit: true,
    considerations: 'Fix the blocking issues before committing and re-run the checks on the final diff.',
  },
};
