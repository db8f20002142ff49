import { Injectable } from '@nestjs/common';
import type { LlmMessage } from '../../providers/llm-provider';
import { ExaiTool } from '../exai-tool.decorator';
import { isExplicitModel, LlmCallService, plannedRoute } from '../llm-call.service';
import { normalizeMessages, normalizeTools } from '../tool-args';
import { SCHEMA, useWebsearch } from '../tool-schema';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

@ExaiTool({
  name: 'kimi_chat_with_tools',
  description:
    "Chat with Kimi with tools. Kimi's $web_search builtin runs through to the grounded answer; when the model calls one of your own function tools, the result carries its tool_calls (finish_reason tool_calls) for you to run and send back.",
  inputSchema: {
    type: 'object',
    properties: {
      messages: {
        type: ['string', 'array'],
        items: { type: ['string', 'object'] },
        description:
          'The conversation: one string (a user message), an array of strings (user messages), or {role, content} objects (roles system, user, assistant, tool; tool messages need tool_call_id).',
      },
      prompt: {
        type: 'string',
        minLength: 1,
        description: 'A single user message; an alternative to messages (appended after them when both are given).',
      },
      model: SCHEMA.model,
      system_prompt: SCHEMA.systemPrompt,
      tools: {
        type: ['array', 'string'],
        items: { type: ['string', 'object'] },
        description:
          'Tools the model may call: OpenAI-style function tools, "$name" strings for Kimi builtin functions such as "$web_search", or the same array as JSON text.',
      },
      tool_choice: {
        anyOf: [{ enum: ['auto', 'none', 'required'] }, { type: 'object' }],
        description: 'auto (default when tools are sent), none, required, or {type:"function", function:{name}}.',
      },
      temperature: SCHEMA.temperature,
      stream: SCHEMA.stream,
      use_websearch: useWebsearch(true, "Kimi's $web_search builtin"),
    },
    anyOf: [{ required: ['messages'] }, { required: ['prompt'] }],
    additionalProperties: false,
  },
})
@Injectable()
export class KimiChatWithToolsTool implements ExaiToolHandler {
  constructor(private readonly llm: LlmCallService) {}

  async prepare(args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    const messages = conversation(args);
    normalizeTools(args.tools, true);
    const prepared = await this.llm.prepare('kimi_chat_with_tools', args, {
      deep: false,
      web: args.use_websearch !== false,
      prompt: messages.map((m) => m.content).join('\n'),
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

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const route = plannedRoute(ctx);
    const { provider } = route;
    const { metadata, result } = await this.llm.complete(
      route,
      conversation(args),
      {
        temperature: typeof args.temperature === 'number' ? args.temperature : undefined,
        // Builtins are Kimi's: on a GLM fallback only function tools go through.
        tools: normalizeTools(args.tools, true).filter((t) => provider.id === 'KIMI' || t.type === 'function'),
        toolChoice: args.tool_choice,
      },
      ctx,
    );
    return { content: result.content, contentType: 'text', metadata };
  }
}

function conversation(args: Record<string, unknown>): LlmMessage[] {
  const messages = [
    ...(typeof args.system_prompt === 'string' ? [{ role: 'system' as const, content: args.system_prompt }] : []),
    ...(args.messages !== undefined ? normalizeMessages(args.messages) : []),
    ...(typeof args.prompt === 'string' ? [{ role: 'user' as const, content: args.prompt }] : []),
  ];
  if (messages.length === 0) throw new InvalidArgumentsError('messages or prompt is required', { field: 'messages' });
  return messages;
}
