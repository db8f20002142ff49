import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { LlmProviderRegistry } from '../../providers/llm-provider-registry.service';
import { providersConfig } from '../../providers/providers.config';
import { ModelSelectionCache } from '../../routing/model-selection.cache';
import { DiagnosticsService } from '../diagnostics.service';
import { ExaiTool } from '../exai-tool.decorator';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, ToolResult } from '../tool.types';
import { modelEntry } from './listmodels.tool';

/** The everyday tools; the rest show with show_advanced (the old daemon's visibility split). */
export const CORE_TOOLS: ReadonlySet<string> = new Set([
  'chat',
  'thinkdeep',
  'analyze',
  'codereview',
  'debug',
  'refactor',
  'testgen',
  'planner',
  'challenge',
  'status',
  'kimi_chat_with_files',
  'kimi_intent_analysis',
  'glm_web_search',
]);

@ExaiTool({
  name: 'provider_capabilities',
  description:
    'What each provider can do here: whether its key is set (never the key), its base URL, mode and circuit, each model with window, output cap and thinking/vision/tool support, and the tools available.',
  inputSchema: {
    type: 'object',
    properties: {
      include_tools: { type: 'boolean', default: true, description: 'Include the list of tools.' },
      show_advanced: {
        type: 'boolean',
        default: false,
        description: 'List every tool, not only the everyday ones (chat, thinkdeep, the workflow tools, status, …).',
      },
      invalidate_cache: {
        type: 'boolean',
        default: false,
        description: "Forget the routing cache's model choices first, so the next auto-routed call decides afresh.",
      },
      model: SCHEMA.ignoredModel,
    },
    additionalProperties: false,
  },
  cacheable: false,
  timeoutSecs: 10,
})
@Injectable()
export class ProviderCapabilitiesTool implements ExaiToolHandler {
  constructor(
    @Inject(providersConfig.KEY) private readonly config: ConfigType<typeof providersConfig>,
    private readonly providers: LlmProviderRegistry,
    private readonly diagnostics: DiagnosticsService,
    private readonly routingCache: ModelSelectionCache,
  ) {}

  execute(args: Record<string, unknown>): Promise<ToolResult> {
    const out: Record<string, unknown> = {};
    if (args.invalidate_cache === true) out.routing_cache_cleared = this.routingCache.clear();
    out.env = {
      GLM_API_KEY_present: !!this.config.glm.apiKey,
      KIMI_API_KEY_present: !!this.config.kimi.apiKey,
      GLM_API_URL: this.config.glm.baseUrl,
      KIMI_API_URL: this.config.kimi.baseUrl,
      EXAI_PROVIDERS_MODE: this.config.mode,
    };
    out.providers = this.providers.all().map((p) => ({ ...p.status(), models: p.catalogue().map(modelEntry) }));
    if (args.include_tools !== false) {
      const all = this.diagnostics.toolNames();
      out.tools = args.show_advanced === true ? all : all.filter((t) => CORE_TOOLS.has(t));
      out.showing_advanced = args.show_advanced === true;
    }
    return Promise.resolve({ content: JSON.stringify(out), contentType: 'json' });
  }
}
