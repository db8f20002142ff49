import { Injectable } from '@nestjs/common';
import { HealthService } from '../../health/health.service';
import { DiagnosticsService } from '../diagnostics.service';
import { ExaiTool } from '../exai-tool.decorator';
import { recentCalls } from '../tool-schema';
import type { ExaiToolHandler, ToolContext, ToolResult } from '../tool.types';

// No additionalProperties:false: the old health schema accepted any key.
@ExaiTool({
  name: 'health',
  description:
    "Provider and model availability with the daemon's health indicators and this session's most recent calls (from the in-memory activity ring, not log files).",
  inputSchema: {
    type: 'object',
    properties: {
      tail_lines: recentCalls(50, 5000),
    },
  },
  cacheable: false,
  timeoutSecs: 10,
})
@Injectable()
export class HealthTool implements ExaiToolHandler {
  constructor(
    private readonly health: HealthService,
    private readonly diagnostics: DiagnosticsService,
  ) {}

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const snapshot = await this.health.snapshot();
    const calls = this.diagnostics.activityTail(ctx.sessionId, Number(args.tail_lines ?? 50));
    const out = {
      status: snapshot.status,
      providers_configured: this.diagnostics.providersConfigured(),
      models_available: this.diagnostics.modelsAvailable(),
      indicators: snapshot.details,
      toolcalls_tail: calls,
    };
    return { content: JSON.stringify(out), contentType: 'json' };
  }
}
