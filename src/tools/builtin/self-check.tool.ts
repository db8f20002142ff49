import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { providersConfig } from '../../providers/providers.config';
import { DiagnosticsService } from '../diagnostics.service';
import { recentCalls } from '../tool-schema';
import { ToolRegistryService } from '../tool-registry.service';
import type { ExaiToolHandler, ExaiToolOptions, ToolContext, ToolResult } from '../tool.types';
import { toolsConfig } from '../tools.config';

const OPTIONS: ExaiToolOptions = {
  name: 'self-check',
  description:
    "Diagnostics for whoever runs the daemon: which providers have keys (never the keys), the tools exposed, which EXAI variables are set, and this session's recent calls. Only present with EXAI_DIAGNOSTICS=true.",
  // No additionalProperties:false: the old self-check schema accepted any key.
  inputSchema: {
    type: 'object',
    properties: {
      log_lines: recentCalls(40, 500),
    },
  },
  cacheable: false,
  timeoutSecs: 10,
};

/** The settings whose presence (never value) self-check reports. */
const REPORTED_SETTINGS = {
  GLM_API_KEY: (c: ConfigType<typeof providersConfig>) => !!c.glm.apiKey,
  KIMI_API_KEY: (c: ConfigType<typeof providersConfig>) => !!c.kimi.apiKey,
} as const;

/**
 * Registers itself only when EXAI_DIAGNOSTICS=true, so the tool is absent from
 * `list_tools` (and a call is TOOL_NOT_FOUND) on a daemon that did not ask for it.
 */
@Injectable()
export class SelfCheckTool implements ExaiToolHandler, OnModuleInit {
  constructor(
    @Inject(toolsConfig.KEY) private readonly config: ConfigType<typeof toolsConfig>,
    @Inject(providersConfig.KEY) private readonly providers: ConfigType<typeof providersConfig>,
    private readonly registry: ToolRegistryService,
    private readonly diagnostics: DiagnosticsService,
  ) {}

  onModuleInit(): void {
    if (this.config.diagnostics) this.registry.register(OPTIONS, this);
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const tools = this.diagnostics.toolNames();
    const settings = Object.fromEntries(
      Object.entries(REPORTED_SETTINGS).map(([key, isSet]) => [key, isSet(this.providers) ? 'set' : 'not set']),
    );
    const lines = [
      '# EXAI self-check',
      '',
      `Providers with keys: ${this.diagnostics.providersConfigured().join(', ') || 'none'} (mode ${this.providers.mode})`,
      `Tools exposed (${tools.length}): ${tools.join(', ')}`,
      `Settings: ${Object.entries(settings)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
      '',
      '## Recent calls',
      ...this.diagnostics.activityTail(ctx.sessionId, Number(args.log_lines ?? 40)),
    ];
    return Promise.resolve({ content: lines.join('\n'), contentType: 'markdown' });
  }
}
