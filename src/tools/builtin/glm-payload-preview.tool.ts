import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { routingConfig } from '../../routing/routing.config';
import { ExaiTool } from '../exai-tool.decorator';
import { isExplicitModel, LlmCallService, plannedRoute } from '../llm-call.service';
import { normalizeTools } from '../tool-args';
import { SCHEMA, useWebsearch } from '../tool-schema';
import type { ExaiToolHandler, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

const PREVIEW_TIMEOUT_SECS = 10;

@ExaiTool({
  name: 'glm_payload_preview',
  description:
    'Shows the exact JSON body the gateway would send to GLM for a chat request, without sending it (no network, no cost).',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1, description: 'The user message to preview.' },
      model: SCHEMA.model,
      system_prompt: SCHEMA.systemPrompt,
      temperature: { ...SCHEMA.temperature, default: 0.3 },
      use_websearch: useWebsearch(false, "GLM's web_search tool"),
      thinking: { type: 'boolean', default: false, description: 'Preview with thinking enabled (GLM-4.5 and later).' },
      tools: {
        type: ['array', 'string'],
        items: { type: 'object' },
        description: 'Function tools in OpenAI form, or the same array as JSON text.',
      },
      tool_choice: {
        anyOf: [{ enum: ['auto', 'none', 'required'] }, { type: 'object' }],
        description: 'auto (sent by default with tools), none, required, or a named function.',
      },
    },
    required: ['prompt'],
    additionalProperties: false,
  },
  cacheable: false,
  timeoutSecs: PREVIEW_TIMEOUT_SECS,
})
@Injectable()
export class GlmPayloadPreviewTool implements ExaiToolHandler {
  constructor(
    private readonly llm: LlmCallService,
    @Inject(routingConfig.KEY) private readonly routing: ConfigType<typeof routingConfig>,
  ) {}

  // Resolved here rather than through routing: a preview calls no provider, so it takes no provider permit.
  prepare(args: Record<string, unknown>): PreparedCall {
    const { provider, model } = this.llm.resolveModel(
      isExplicitModel(args.model) ? args.model : this.routing.glmSpeedModel,
    );
    if (provider.id !== 'GLM') {
      throw new InvalidArgumentsError(`glm_payload_preview previews GLM requests; "${model.id}" is ${provider.id}'s`, {
        model: model.id,
      });
    }
    normalizeTools(args.tools, false);
    return {
      args: { ...args, model: model.id },
      // No `provider`: the route is for building the body; nothing is sent upstream.
      route: {
        model: model.id,
        provider,
        thinking: args.thinking === true,
        web: args.use_websearch === true,
        timeoutSecs: PREVIEW_TIMEOUT_SECS,
      },
    };
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const { provider, model } = plannedRoute(ctx);
    const body = provider.requestBody({
      model,
      messages: [
        ...(typeof args.system_prompt === 'string' ? [{ role: 'system' as const, content: args.system_prompt }] : []),
        { role: 'user', content: String(args.prompt) },
      ],
      temperature: typeof args.temperature === 'number' ? args.temperature : undefined,
      webSearch: args.use_websearch === true,
      thinking: args.thinking === true,
      tools: normalizeTools(args.tools, false),
      toolChoice: args.tool_choice,
    });
    return Promise.resolve({
      content: JSON.stringify(body),
      contentType: 'json',
      metadata: { provider: 'GLM', model },
    });
  }
}
