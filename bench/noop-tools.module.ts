import { Injectable, Module } from '@nestjs/common';
import { ExaiTool } from '../src/tools/exai-tool.decorator';
import type { ExaiToolHandler, ToolResult } from '../src/tools/tool.types';

@ExaiTool({
  name: 'bench_noop',
  description: 'Returns at once.',
  inputSchema: { type: 'object' },
  cacheable: false,
})
@Injectable()
class NoopTool implements ExaiToolHandler {
  execute(): Promise<ToolResult> {
    return Promise.resolve({ content: 'ok' });
  }
}

/** The no-op tool the daemon section measures the gateway's own cost with. */
@Module({ providers: [NoopTool] })
export class BenchToolsModule {}
