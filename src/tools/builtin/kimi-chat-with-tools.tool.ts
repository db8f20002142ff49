import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { isExplicitModel, LlmCallService, textArg } from '../llm-call.service';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

@ExaiTool({
  name: 'kimi_chat_with_tools',
  description: 'Chat with Kimi, with its $web_search builtin carried through to the grounded answer.',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1 },
      model: { type: 'string', default: 'auto' },
      system_prompt: { type: 'string' },
      temperature: { type: 'number', minimum: 0, maximum: 1 },
      use_websearch: { type: 'boolean', default: true },
    },
    required: ['prompt'],
  },
})
@Injectable()
export class KimiChatWithToolsTool implements ExaiToolHandler {
  constructor(private readonly llm: LlmCallService) {}

  prepare(args: Record<string, unknown>, ctx: PrepareContext): PreparedCall {
    const prepared = this.llm.prepare('kimi_chat_with_tools', args, {
      deep: false,
      web: args.use_websearch !== false,
      prompt: `${textArg(args.system_prompt)}${String(args.prompt)}`,
      sessionId: ctx.sessionId,
    });
    // An explicit model must be Kimi's; `auto` may fall back to GLM when Kimi is down.
    if (isExplicitModel(args.model) && prepared.provider !== 'KIMI') {
      throw new InvalidArgumentsError(`kimi_chat_with_tools needs a Kimi model, not "${String(prepared.args.model)}"`, {
        model: prepared.args.model,
      });
    }
    return prepared;
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const model = String(args.model);
    return this.llm.run(
      {
        model,
        provider: this.llm.providerFor(model),
        thinking: model.includes('thinking'),
        web: args.use_websearch !== false,
      },
      {
        prompt: String(args.prompt),
        systemPrompt: typeof args.system_prompt === 'string' ? args.system_prompt : undefined,
        temperature: typeof args.temperature === 'number' ? args.temperature : undefined,
      },
      ctx,
    );
  }
}
