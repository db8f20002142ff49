import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { routingConfig } from '../../routing/routing.config';
import { ExaiTool } from '../exai-tool.decorator';
import { LlmCallService } from '../llm-call.service';
import type { ExaiToolHandler, PreparedCall, ToolContext, ToolResult } from '../tool.types';
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
  constructor(
    private readonly llm: LlmCallService,
    @Inject(routingConfig.KEY) private readonly routing: ConfigType<typeof routingConfig>,
  ) {}

  prepare(args: Record<string, unknown>): PreparedCall {
    const prepared = this.llm.prepare(args, this.routing.kimiSpeedModel, {
      thinking: false,
      web: args.use_websearch !== false,
    });
    if (prepared.provider !== 'KIMI') {
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
