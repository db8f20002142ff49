import { Injectable } from '@nestjs/common';
import { LlmProviderRegistry } from '../../providers/llm-provider-registry.service';
import { ExaiTool } from '../exai-tool.decorator';
import type { ExaiToolHandler, ToolResult } from '../tool.types';

@ExaiTool({
  name: 'listmodels',
  description: 'Lists the models of every registered LLM provider.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  cacheable: false,
  timeoutSecs: 30,
})
@Injectable()
export class ListModelsTool implements ExaiToolHandler {
  constructor(private readonly providers: LlmProviderRegistry) {}

  async execute(): Promise<ToolResult> {
    const providers = await Promise.all(
      this.providers.all().map(async (p) => ({ ...p.status(), provider: p.id, models: await p.models() })),
    );
    const total = providers.reduce((n, p) => n + p.models.length, 0);
    return { content: JSON.stringify({ providers, total_models: total }), contentType: 'json' };
  }
}
