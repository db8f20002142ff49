import { actionsFor } from '../workflow-actions';
import { anyMaterial } from '../workflow-steps';
import type { WorkflowDefinition } from '../workflow.types';

export const TESTGEN: WorkflowDefinition = {
  name: 'testgen',
  description:
    'Plan and write tests in steps: you study the code between calls (intermediate steps answered at once, no model call); ' +
    'the final step sends your findings and the files to an expert model that designs the tests.',
  properties: {},
  required: ['findings'],
  settings: [],
  checkStep: (args) =>
    Number(args.step_number) === 1 && (!Array.isArray(args.relevant_files) || args.relevant_files.length === 0)
      ? 'step 1 needs relevant_files: the code to test'
      : undefined,
  names: {
    pause: 'pause_for_test_analysis',
    complete: 'test_generation_complete',
    certainSkip: 'test_generation_complete_ready_for_implementation',
    skipStatus: 'skipped_due_to_certain_test_confidence',
    completeKey: 'complete_test_generation',
    statusKey: 'test_generation_status',
  },
  requiredActions: (step, confidence) =>
    actionsFor(
      {
        first: [
          'Read the code to test and the existing tests, to learn the framework and conventions',
          'List the public behaviour that needs covering',
        ],
        early: ['Map the happy paths and the error paths', 'Note the dependencies a test must control'],
        middle: ['Find realistic edge cases: boundaries, empty and huge inputs, concurrency, failures'],
        late: ['Rank the scenarios by the damage a bug there would do'],
      },
      step,
      confidence,
    ),
  statusExtras: (c) => ({ test_scenarios_identified: c.relevantContext.length, analysis_confidence: c.confidence }),
  expert: {
    systemPrompt:
      'You are a test engineer writing a small number of tests that catch real bugs. Work out the language, framework and conventions ' +
      'from the code and existing tests; map the normal and failure paths; think like an adversary about realistic edge cases; rank ' +
      'scenarios by production risk; and write deterministic tests in the project’s own style, without sleeps or network. If you need an ' +
      'example of the project’s tests first, reply only with {"status":"test_sample_needed","reason":"…"}. After three to five critical ' +
      'tests, stop and reply with the tests plus {"status":"more_tests_required","pending_tests":"…"} listing what remains.',
    instruction: 'Design and write the most valuable tests for the code above.',
    embedFiles: true,
    deepThinking: true,
    temperature: 0.2,
    skipOn: ['certain'],
    wants: anyMaterial,
    considerations:
      'Run every generated test; a test that has never failed proves nothing, so break the code once to see it fail.',
  },
};
