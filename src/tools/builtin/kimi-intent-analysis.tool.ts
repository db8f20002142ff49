import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { routingConfig } from '../../routing/routing.config';
import { ExaiTool } from '../exai-tool.decorator';
import { LlmCallService, plannedRoute } from '../llm-call.service';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';

const INSTRUCTIONS = [
  'You sort incoming requests so a gateway can send each to the right model.',
  'Reply with one JSON object and nothing else, with these keys:',
  'needs_websearch (true when the answer depends on current or external facts),',
  'complexity ("simple", "moderate" or "deep"),',
  'domain (a word or two such as "code", "math", "writing", "general"),',
  'recommended_provider ("GLM" for quick or simple work, "KIMI" for long context or deep reasoning),',
  'recommended_model (a model id of that provider, or "auto"),',
  'streaming_preferred (true when a long answer is expected).',
].join(' ');

const COMPLEXITIES = new Set(['simple', 'moderate', 'deep']);

@ExaiTool({
  name: 'kimi_intent_analysis',
  description:
    'Asks Kimi to classify a request: whether it needs web search, how complex it is, its domain, and which provider and model suit it. Returns JSON; if the reply cannot be read, a simple-request default marked fallback:true.',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1, description: 'The request to classify.' },
      context: { type: 'string', description: 'Anything that helps classify it (the task so far, the codebase).' },
      model: SCHEMA.model,
      use_websearch: {
        type: 'boolean',
        description: 'Accepted for compatibility and ignored: classification never searches.',
      },
    },
    required: ['prompt'],
    additionalProperties: false,
  },
})
@Injectable()
export class KimiIntentAnalysisTool implements ExaiToolHandler {
  constructor(
    private readonly llm: LlmCallService,
    @Inject(routingConfig.KEY) private readonly routing: ConfigType<typeof routingConfig>,
  ) {}

  prepare(args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    return this.llm.prepare('kimi_intent_analysis', args, {
      deep: false,
      web: false,
      sessionId: ctx.sessionId,
      prompt: `${String(args.prompt)}${typeof args.context === 'string' ? args.context : ''}`,
    });
  }

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const request =
      typeof args.context === 'string' ? `${String(args.prompt)}\n\nContext:\n${args.context}` : String(args.prompt);
    const { result, metadata } = await this.llm.complete(
      plannedRoute(ctx),
      [
        { role: 'system', content: INSTRUCTIONS },
        { role: 'user', content: request },
      ],
      { temperature: 0.1, maxTokens: 512 },
      ctx,
    );
    const intent = parseIntent(result.content) ?? {
      needs_websearch: false,
      complexity: 'simple',
      domain: 'general',
      recommended_provider: 'GLM',
      recommended_model: this.routing.glmSpeedModel,
      streaming_preferred: false,
      fallback: true,
    };
    return { content: JSON.stringify(intent), contentType: 'json', metadata };
  }
}

/** The first JSON object in the reply, if it has the expected keys with usable values. */
function parseIntent(text: string): Record<string, unknown> | undefined {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text.slice(start, end + 1)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const provider = typeof raw.recommended_provider === 'string' ? raw.recommended_provider.toUpperCase() : '';
  if (!COMPLEXITIES.has(String(raw.complexity)) || (provider !== 'GLM' && provider !== 'KIMI')) return undefined;
  return {
    needs_websearch: raw.needs_websearch === true,
    complexity: raw.complexity,
    domain: typeof raw.domain === 'string' ? raw.domain : 'general',
    recommended_provider: provider,
    recommended_model: typeof raw.recommended_model === 'string' ? raw.recommended_model : 'auto',
    streaming_preferred: raw.streaming_preferred === true,
    fallback: false,
  };
}
