import { actionsFor } from '../workflow-actions';
import { enoughForExpert } from '../workflow-steps';
import type { WorkflowDefinition } from '../workflow.types';

const ERROR_WORDS = /error|exception|stack trace|traceback|fail/i;

export const DEBUG: WorkflowDefinition = {
  name: 'debug',
  description:
    'Root-cause a bug in steps: you investigate between calls (each intermediate step answers at once, with no model call), ' +
    'then the final step hands your evidence and the relevant files to an expert model to confirm the cause and the smallest safe fix.',
  properties: {},
  required: ['findings'],
  settings: [],
  names: {
    pause: 'pause_for_investigation',
    complete: 'investigation_complete',
    certainSkip: 'certain_confidence_proceed_with_fix',
    skipStatus: 'skipped_due_to_certain_confidence',
    completeKey: 'complete_investigation',
    statusKey: 'investigation_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Reproduce the problem or pin down exactly when it happens',
          'Read the code on the failing path, starting where the symptom shows',
          'Collect the error messages, stack traces and logs that belong to it',
          'Write down what the code should do versus what it does',
        ],
        early: [
          'Follow the execution path backwards from the symptom',
          'Check the inputs, state and configuration the failing code sees',
          'Form a first hypothesis and look for evidence against it',
        ],
        middle: [
          'Test the hypothesis against the code: find the exact lines responsible',
          'Rule out the competing explanations one by one',
          'Check recent changes and edge cases around the suspected lines',
        ],
        late: [
          'Confirm the root cause with a concrete trace from cause to symptom',
          'Outline the smallest fix and what it could break',
        ],
      },
      step,
      confidence,
    ),
  statusExtras: (c) => ({ hypotheses_formed: c.hypotheses.length }),
  expert: {
    systemPrompt:
      'You are a debugging specialist reviewing an investigation an engineer has already carried out. ' +
      'Work only from the evidence and code you are given; report only defects that really exist in that code, never style points. ' +
      'Rank explanations by how well the evidence supports them, and propose the smallest change that removes the cause without ' +
      'new risk. Answer with a single JSON object and nothing else, in one of three shapes: ' +
      '{"status":"files_required_to_continue","mandatory_instructions":"…","files_needed":["…"]} when you cannot judge without more code; ' +
      '{"status":"no_bug_found","summary":"…","confidence_level":"…","alternative_explanations":["…"],"recommended_questions":["…"]} ' +
      'when the evidence does not show a defect; or {"status":"analysis_complete","summary":"…","hypotheses":[{"name":"…",' +
      '"confidence":"high|medium|low","root_cause":"…","evidence":"…","minimal_fix":"…","file_references":["file:line"]}],' +
      '"key_findings":["…"],"immediate_actions":["…"],"investigation_summary":"…"}.',
    instruction:
      'Decide whether the evidence establishes the root cause. Confirm or refute the agent’s hypothesis, point to the exact lines, and give the minimal fix, as the JSON object described.',
    embedFiles: true,
    deepThinking: false,
    temperature: 0.2,
    skipOn: ['certain'],
    wants: enoughForExpert,
    sections: (c) => {
      const errors = c.findings.filter((f) => ERROR_WORDS.test(f.text)).map((f) => `Step ${f.step}: ${f.text}`);
      const out: string[] = [];
      if (c.confidence === 'almost_certain') {
        out.push(
          '## Note\nThe agent is almost certain of the cause: check the reasoning for gaps before agreeing, and say so if something does not hold.',
        );
      }
      if (errors.length > 0) out.push(`## Error context\n${errors.join('\n')}`);
      return out;
    },
    considerations:
      'The expert saw only what you sent. Check each hypothesis against the code before changing anything, and apply the smallest fix first.',
  },
};
