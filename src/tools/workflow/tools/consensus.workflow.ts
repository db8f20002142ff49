import { pathList } from '../workflow.schema';
import type { ConsultingDefinition } from '../workflow.types';

const STANCES: Record<string, string> = {
  for:
    'Argue the case for the proposal: bring out its strengths and how its weaknesses could be handled. But if it is clearly harmful, ' +
    'unworkable or far worse than an obvious alternative, say so plainly: the truth comes before the stance.',
  against:
    'Argue the case against the proposal: probe its risks, costs and weak assumptions. But if it is clearly sound and the best option, ' +
    'say so plainly: the truth comes before the stance.',
  neutral: 'Weigh the proposal evenly, giving its strengths and weaknesses the weight the evidence supports.',
};

export const CONSENSUS: ConsultingDefinition = {
  name: 'consensus',
  description:
    'Get several models’ views on a proposal, one model per step, each with a stance (for, against, neutral) and each blind to the ' +
    'others: step 1 states the proposal and consults the first model; each later step consults the next.',
  properties: {
    models: {
      type: 'array',
      minItems: 1,
      maxItems: 10,
      items: {
        type: 'object',
        properties: {
          model: {
            type: 'string',
            minLength: 1,
            description: 'The model to consult ("auto" lets the routing choose).',
          },
          stance: {
            enum: ['for', 'against', 'neutral'],
            default: 'neutral',
            description: 'The position it argues from.',
          },
          stance_prompt: { type: 'string', description: 'Your own stance instructions, replacing the built-in ones.' },
        },
        required: ['model'],
      },
      description: 'The models to consult, in order, one per step; required at step 1. Each (model, stance) pair once.',
    },
    relevant_files: pathList(
      'Absolute paths of files every model should read with the proposal (under EXAI_FILE_ROOTS).',
    ),
    current_model_index: {
      type: 'integer',
      minimum: 0,
      description: 'Accepted for compatibility; the thread tracks it.',
    },
    model_responses: {
      type: 'array',
      items: { type: 'object' },
      description: 'Accepted for compatibility; the thread keeps the responses.',
    },
  },
  omit: [
    'files_checked',
    'relevant_context',
    'issues_found',
    'hypothesis',
    'backtrack_from_step',
    'confidence',
    'temperature',
    'thinking_mode',
    'use_websearch',
  ],
  required: [],
  settings: [],
  checkStep: (args, run) => {
    if (Number(args.step_number) !== 1 || run) return undefined;
    if (typeof args.findings !== 'string' || args.findings.trim() === '') {
      return 'step 1 needs findings: your own analysis of the proposal';
    }
    const models = Array.isArray(args.models) ? (args.models as Array<{ model: string; stance?: string }>) : [];
    if (models.length === 0) return 'step 1 needs models: the models to consult, each with a stance';
    const pairs = models.map((m) => `${m.model}:${m.stance ?? 'neutral'}`);
    const dup = pairs.find((p, i) => pairs.indexOf(p) !== i);
    return dup ? `models lists ${dup} twice; each (model, stance) pair may appear once` : undefined;
  },
  names: {
    pause: 'model_consulted',
    complete: 'consensus_workflow_complete',
    certainSkip: 'consensus_workflow_complete',
    skipStatus: 'skipped_no_model',
    completeKey: 'complete_consensus',
    statusKey: 'consensus_status',
  },
  requiredActions: () => ['Note the model’s verdict, then consult the next model'],
  consult: {
    temperature: 0.2,
    systemPrompt: (stance, stancePrompt) =>
      'You are an independent technical consultant asked to evaluate a proposal. Judge its technical feasibility, how it fits the ' +
      'project, the value to its users, the complexity it adds, the alternatives, what the industry usually does, and its long-term ' +
      `cost. ${stancePrompt ?? STANCES[stance] ?? STANCES.neutral} Answer in Markdown, in at most about 850 tokens, with these sections: ` +
      '"Verdict" (one sentence), "Analysis", "Confidence Score: X/10" with a one-line reason, and "Key Takeaways" (three to five bullets).',
  },
};
