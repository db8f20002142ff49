import { Injectable } from '@nestjs/common';
import { HealthService } from '../../health/health.service';
import { ExaiTool } from '../exai-tool.decorator';
import type { ExaiToolHandler, ToolResult } from '../tool.types';

@ExaiTool({
  name: 'status',
  description: 'The daemon health snapshot: connections, sessions, and every health indicator.',
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  cacheable: false,
  timeoutSecs: 10,
})
@Injectable()
export class StatusTool implements ExaiToolHandler {
  constructor(private readonly health: HealthService) {}

  async execute(): Promise<ToolResult> {
    const snapshot = await this.health.snapshot();
    return { content: JSON.stringify(snapshot), contentType: 'json' };
  }
}
