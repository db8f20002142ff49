import { Injectable } from '@nestjs/common';
import { humanDuration, readPackageInfo } from '../../common/package-info';
import { ExaiTool } from '../exai-tool.decorator';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, ToolResult } from '../tool.types';

@ExaiTool({
  name: 'version',
  description: 'Daemon name, version, Node.js version and uptime.',
  inputSchema: { type: 'object', properties: { model: SCHEMA.ignoredModel }, additionalProperties: false },
  cacheable: false,
  timeoutSecs: 10,
})
@Injectable()
export class VersionTool implements ExaiToolHandler {
  private readonly pkg = readPackageInfo();

  execute(): Promise<ToolResult> {
    const uptimeMs = Math.round(process.uptime() * 1000);
    const info = {
      name: this.pkg.name,
      version: this.pkg.version,
      node: process.version,
      uptime_seconds: Math.round(uptimeMs / 1000),
      uptime_human: humanDuration(uptimeMs),
    };
    return Promise.resolve({ content: JSON.stringify(info), contentType: 'json' });
  }
}
