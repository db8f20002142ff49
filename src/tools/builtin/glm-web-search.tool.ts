import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { isExplicitModel, LlmCallService } from '../llm-call.service';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

@ExaiTool({
  name: 'glm_web_search',
  description: "Answers a query with GLM's built-in web search; the sources come back as citations.",
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1 },
      model: { type: 'string', default: 'auto' },
    },
    required: ['query'],
  },
})
@Injectable()
export class GlmWebSearchTool implements ExaiToolHandler {
  constructor(private readonly llm: LlmCallService) {}

  prepare(args: Record<string, unknown>, ctx: PrepareContext): PreparedCall {
    const prepared = this.llm.prepare('glm_web_search', args, {
      deep: false,
      web: true,
      prompt: String(args.query),
      sessionId: ctx.sessionId,
    });
    // An explicit model must be GLM's; `auto` may fall back to Kimi's search when GLM is down.
    if (isExplicitModel(args.model) && prepared.provider !== 'GLM') {
      throw new InvalidArgumentsError(`glm_web_search needs a GLM model, not "${String(prepared.args.model)}"`, {
        model: prepared.args.model,
      });
    }
    return prepared;
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const model = String(args.model);
    return this.llm.run(
      { model, provider: this.llm.providerFor(model), thinking: false, web: true },
      { prompt: String(args.query), systemPrompt: 'Answer from current web sources and cite them as [ref_N].' },
      ctx,
    );
  }
}
