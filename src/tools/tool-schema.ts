/**
 * Schema properties several tools share, each with its description, so every
 * property a client sees in `list_tools` says what it does. The registry
 * appends the available models to every `model` description.
 */
export const SCHEMA = {
  model: {
    type: 'string',
    default: 'auto',
    description: 'The model to answer with; "auto" lets the gateway route by tool and request.',
  },
  /** Accepted from old clients and ignored: the tool makes no model call. */
  ignoredModel: {
    type: 'string',
    description: 'Accepted for compatibility with old clients and ignored: this tool calls no model.',
  },
  temperature: {
    type: 'number',
    minimum: 0,
    maximum: 1,
    description: "Sampling temperature, 0 to 1; thinking models use the provider's fixed value.",
  },
  systemPrompt: {
    type: 'string',
    description: 'Instructions sent as the system message before the conversation.',
  },
  continuationId: {
    type: 'string',
    description:
      'Continues the conversation of an earlier call: pass the continuation_id from its result metadata (same session only).',
  },
  stream: {
    type: 'boolean',
    default: false,
    description:
      'Accepted for compatibility. The gateway streams from the provider whenever it can (to notice stalls) and always returns one complete result.',
  },
} as const;

/** A `use_websearch` property with the tool's own default. */
export function useWebsearch(defaultValue: boolean, what: string): Record<string, unknown> {
  return {
    type: 'boolean',
    default: defaultValue,
    description: `Let the model search the web (${what}); default ${defaultValue}. Searching makes the call slower and gives it the longer web-search timeout.`,
  };
}

/** How many recent finished calls a diagnostic tool includes. */
export function recentCalls(defaultValue: number, max: number): Record<string, unknown> {
  return {
    type: 'integer',
    minimum: 0,
    maximum: max,
    default: defaultValue,
    description: `How many of the most recent finished calls to include (0 = none, at most ${max}).`,
  };
}
