import { Injectable } from '@nestjs/common';
import type { LlmModelInfo } from '../../providers/llm-provider';
import { LlmProviderRegistry } from '../../providers/llm-provider-registry.service';
import { ExaiTool } from '../exai-tool.decorator';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, ToolResult } from '../tool.types';

@ExaiTool({
  name: 'listmodels',
  description:
    'Lists every provider with its state and the models it serves: context window, output cap, thinking, vision and tool support, and aliases.',
  inputSchema: { type: 'object', properties: { model: SCHEMA.ignoredModel }, additionalProperties: false },
  cacheable: false,
  timeoutSecs: 30,
})
@Injectable()
export class ListModelsTool implements ExaiToolHandler {
  constructor(private readonly providers: LlmProviderRegistry) {}

  async execute(): Promise<ToolResult> {
    const providers = await Promise.all(
      this.providers.all().map(async (p) => ({
        ...p.status(),
        provider: p.id,
        models: (await p.models()).map(modelEntry),
      })),
    );
    const total = providers.reduce((n, p) => n + p.models.length, 0);
    return { content: JSON.stringify({ providers, total_models: total }), contentType: 'json' };
  }
}

/** A catalogue entry as the wire shows it. */
export function modelEntry(m: LlmModelInfo): Record<string, unknown> {
  return {
    id: m.id,
    context_window: m.contextWindow,
    max_output_tokens: m.maxOutput,
    thinking: m.thinking,
    vision: m.vision,
    tools: m.tools,
    aliases: m.aliases ?? [],
  };
}
