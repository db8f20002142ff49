import type { JsonSchema } from '../tool.types';
import { THINKING_MODES } from '../builtin/chat.tool';
import { CONFIDENCE_LEVELS, WorkflowDefinition } from './workflow.types';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;

/** A list of paths; a bare string (which old clients sometimes send) counts as one path. */
export function pathList(description: string, maxItems = 1000): JsonSchema {
  return { type: ['array', 'string'], items: { type: 'string' }, maxItems, default: [], description };
}

/** An issue list; a tool may add per-issue properties (refactor adds `type`). */
export function issuesSchema(extra: Record<string, JsonSchema>, description: string): JsonSchema {
  return {
    type: 'array',
    maxItems: 1000,
    default: [],
    items: {
      type: 'object',
      properties: {
        severity: { enum: [...SEVERITIES], description: 'How serious the issue is.' },
        ...extra,
        description: { type: 'string', description: 'What is wrong and where.' },
      },
      required: ['severity', 'description'],
    },
    description,
  };
}

/** The fields every investigation tool shares, as the old daemon declared them. */
export const COMMON_FIELDS: Record<string, JsonSchema> = {
  step: {
    type: 'string',
    minLength: 1,
    maxLength: 100_000,
    pattern: '\\S',
    description: 'What you are doing in this step: on step 1 the task itself, later what you investigated and why.',
  },
  step_number: { type: 'integer', minimum: 1, description: 'This step’s number, starting at 1.' },
  total_steps: {
    type: 'integer',
    minimum: 1,
    description: 'Your current estimate of the steps needed; raised to step_number when lower.',
  },
  next_step_required: {
    type: 'boolean',
    description:
      'true: another step follows, and this one is answered at once without a model call. false: this is the final step.',
  },
  findings: {
    type: 'string',
    maxLength: 50_000,
    pattern: '\\S',
    description: 'What you found in this step: evidence, observations, conclusions so far.',
  },
  files_checked: pathList('Absolute paths of every file you examined, relevant or not.'),
  relevant_files: pathList(
    'Absolute paths of the files that matter to the result; their contents go to the expert on the final step (under EXAI_FILE_ROOTS only).',
  ),
  relevant_context: {
    type: ['array', 'string'],
    items: { type: 'string' },
    maxItems: 1000,
    default: [],
    description: 'Names of the functions, methods or classes that matter (e.g. "Parser.parse").',
  },
  issues_found: issuesSchema({}, 'Issues found so far, each {severity: critical|high|medium|low, description}.'),
  confidence: {
    enum: [...CONFIDENCE_LEVELS],
    default: 'low',
    description:
      'How sure you are: exploring, low, medium, high, very_high, almost_certain, certain. "certain" on the final step skips the expert.',
  },
  hypothesis: {
    type: 'string',
    maxLength: 10_000,
    pattern: '\\S',
    description: 'Your current theory, revised as evidence comes in.',
  },
  backtrack_from_step: {
    type: 'integer',
    minimum: 1,
    description: 'Discard the steps from this number on (it must be below step_number) and continue from here.',
  },
  images: pathList(
    'Absolute paths of screenshots or diagrams that help (recorded and counted; not sent to models).',
    10,
  ),
  use_assistant_model: {
    type: 'boolean',
    default: true,
    description: 'false completes the final step without the expert model.',
  },
  model: {
    type: 'string',
    description: 'Model for the expert call; omitted or "auto" lets the routing rules choose.',
  },
  temperature: { type: 'number', minimum: 0, maximum: 1, description: 'Sampling temperature of the expert call.' },
  thinking_mode: {
    enum: [...THINKING_MODES],
    description: 'Reasoning depth of the expert call; medium and above ask for a thinking model.',
  },
  use_websearch: {
    type: 'boolean',
    default: true,
    description: 'Let the expert use the provider’s web search.',
  },
  continuation_id: {
    type: 'string',
    description: 'The id returned by step 1; send it with every later step of the same work.',
  },
};

/** The tool's `inputSchema`: the common fields it keeps plus its own. */
export function workflowSchema(def: WorkflowDefinition): Record<string, unknown> {
  const omit = new Set(def.omit ?? []);
  const properties: Record<string, JsonSchema> = {};
  for (const [key, schema] of Object.entries(COMMON_FIELDS)) if (!omit.has(key)) properties[key] = schema;
  Object.assign(properties, def.properties);
  return {
    type: 'object',
    properties,
    required: ['step', 'step_number', 'total_steps', 'next_step_required', ...def.required],
  };
}

export const SEVERITY_FILTER: JsonSchema = {
  enum: ['critical', 'high', 'medium', 'low', 'all'],
  default: 'all',
  description: 'Report only issues at or above this severity.',
};
