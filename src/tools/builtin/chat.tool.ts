import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { continuationOf, LlmCallService, textArg } from '../llm-call.service';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';

export const THINKING_MODES = ['minimal', 'low', 'medium', 'high', 'max'] as const;
const DEEP_MODES = new Set(['medium', 'high', 'max']);

// Old clients send extra fields (files, images, ...); they must not fail validation.
@ExaiTool({
  name: 'chat',
  description:
    'General chat with GLM or Kimi. model "auto" picks a fast model, or a thinking one for thinking_mode medium and above.',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1 },
      model: { type: 'string', default: 'auto' },
      system_prompt: { type: 'string' },
      temperature: { type: 'number', minimum: 0, maximum: 1 },
      thinking_mode: { enum: [...THINKING_MODES] },
      use_websearch: { type: 'boolean', default: false },
      continuation_id: { type: 'string' },
    },
    required: ['prompt'],
  },
})
@Injectable()
export class ChatTool implements ExaiToolHandler {
  constructor(private readonly llm: LlmCallService) {}

  prepare(args: Record<string, unknown>, ctx: PrepareContext): PreparedCall {
    return this.llm.prepare('chat', args, {
      deep: DEEP_MODES.has(String(args.thinking_mode)),
      web: args.use_websearch === true,
      prompt: `${textArg(args.system_prompt)}${String(args.prompt)}`,
      sessionId: ctx.sessionId,
    });
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const model = String(args.model);
    const deep = DEEP_MODES.has(String(args.thinking_mode));
    return this.llm.run(
      {
        model,
        provider: this.llm.providerFor(model),
        thinking: deep || model.includes('thinking'),
        web: args.use_websearch === true,
      },
      {
        prompt: String(args.prompt),
        systemPrompt: typeof args.system_prompt === 'string' ? args.system_prompt : undefined,
        temperature: typeof args.temperature === 'number' ? args.temperature : undefined,
        continuationId: continuationOf(args),
      },
      ctx,
    );
  }
}
