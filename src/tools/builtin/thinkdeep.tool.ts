import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { LlmCallService, textArg } from '../llm-call.service';
import type { ExaiToolHandler, PreparedCall, ToolContext, ToolResult } from '../tool.types';

const SYSTEM_PROMPT =
  'You are a senior engineer thinking a problem through. Reason step by step, question assumptions, and end with a clear conclusion and next steps.';

@ExaiTool({
  name: 'thinkdeep',
  description: 'Deep reasoning on a problem with a thinking model (Kimi quality model by default).',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1 },
      step: { type: 'string', minLength: 1 },
      findings: { type: 'string' },
      model: { type: 'string', default: 'auto' },
      use_websearch: { type: 'boolean', default: false },
      continuation_id: { type: 'string' },
    },
    anyOf: [{ required: ['prompt'] }, { required: ['step'] }],
  },
})
@Injectable()
export class ThinkDeepTool implements ExaiToolHandler {
  constructor(private readonly llm: LlmCallService) {}

  prepare(args: Record<string, unknown>): PreparedCall {
    return this.llm.prepare('thinkdeep', args, {
      deep: true,
      web: args.use_websearch === true,
      prompt: `${textArg(args.prompt) || textArg(args.step)}${textArg(args.findings)}`,
    });
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const model = String(args.model);
    const prompt = [
      args.prompt ?? args.step,
      typeof args.findings === 'string' && args.findings ? `Findings so far:\n${args.findings}` : '',
    ]
      .filter((p) => typeof p === 'string' && p !== '')
      .join('\n\n');
    return this.llm.run(
      { model, provider: this.llm.providerFor(model), thinking: true, web: args.use_websearch === true },
      {
        prompt,
        systemPrompt: SYSTEM_PROMPT,
        continuationId: typeof args.continuation_id === 'string' ? args.continuation_id : undefined,
      },
      ctx,
    );
  }
}
