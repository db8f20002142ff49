import { Injectable, Module } from '@nestjs/common';
import { ExaiTool } from '../../src/tools/exai-tool.decorator';
import type { ExaiToolHandler, ToolContext, ToolResult } from '../../src/tools/tool.types';

/** Counts executions and lets a test hold tools until it opens a gate. */
@Injectable()
export class TestToolsProbe {
  readonly runs = new Map<string, number>();
  readonly aborted: string[] = [];
  private readonly gates = new Map<string, { promise: Promise<void>; open: () => void }>();

  count(tool: string): void {
    this.runs.set(tool, (this.runs.get(tool) ?? 0) + 1);
  }

  gate(name: string): Promise<void> {
    return this.entry(name).promise;
  }

  open(name: string): void {
    this.entry(name).open();
  }

  private entry(name: string) {
    let g = this.gates.get(name);
    if (!g) {
      let open!: () => void;
      const promise = new Promise<void>((r) => (open = r));
      g = { promise, open };
      this.gates.set(name, g);
    }
    return g;
  }
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

@ExaiTool({
  name: 'test_echo',
  description: 'Echoes its arguments after an optional delay.',
  inputSchema: {
    type: 'object',
    properties: { text: { type: 'string' }, delay_ms: { type: 'integer', minimum: 0 } },
    required: ['text'],
    additionalProperties: false,
  },
})
@Injectable()
export class EchoTool implements ExaiToolHandler {
  constructor(private readonly probe: TestToolsProbe) {}

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    this.probe.count('test_echo');
    const delay = (args.delay_ms as number | undefined) ?? 0;
    if (delay > 0) {
      ctx.progress(`sleeping ${delay}ms`);
      await Promise.race([new Promise((r) => setTimeout(r, delay)), untilAborted(ctx.signal)]);
    }
    return { content: String(args.text), metadata: { request_id: ctx.requestId } };
  }
}

@ExaiTool({
  name: 'test_gate',
  description: 'Waits until the test opens the named gate, or until aborted.',
  inputSchema: {
    type: 'object',
    properties: {
      gate: { type: 'string' },
      ignore_abort: { type: 'boolean' },
      timeout_secs: { type: 'integer', minimum: 1 },
    },
    required: ['gate'],
  },
  cacheable: false,
  timeoutSecs: (args) => (typeof args.timeout_secs === 'number' ? args.timeout_secs : 30),
})
@Injectable()
export class GateTool implements ExaiToolHandler {
  constructor(private readonly probe: TestToolsProbe) {}

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    this.probe.count('test_gate');
    ctx.signal.addEventListener('abort', () => this.probe.aborted.push(ctx.requestId), { once: true });
    const gate = this.probe.gate(String(args.gate));
    await (args.ignore_abort === true ? gate : Promise.race([gate, untilAborted(ctx.signal)]));
    return { content: `gate ${String(args.gate)} opened` };
  }
}

@ExaiTool({
  name: 'test_fail',
  description: 'Always throws.',
  inputSchema: { type: 'object', properties: { message: { type: 'string' } } },
  cacheable: false,
})
@Injectable()
export class FailTool implements ExaiToolHandler {
  execute(args: Record<string, unknown>): Promise<ToolResult> {
    return Promise.reject(new Error(typeof args.message === 'string' ? args.message : 'boom'));
  }
}

/** An extension module: adds tools without touching src/tools. */
@Module({
  providers: [TestToolsProbe, EchoTool, GateTool, FailTool],
  exports: [TestToolsProbe],
})
export class TestToolsModule {}
