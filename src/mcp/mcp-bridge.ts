import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, CallToolResult, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ExaiCallError, ExaiClient, FROM_CACHE_NOTE, ProgressInfo } from '../client/exai-client';
import { readPackageInfo } from '../common/package-info';

export type BridgeLog = (message: string) => void;

/**
 * A stdio MCP server in front of the daemon. Every `tools/call` becomes its
 * own `call_tool` with a fresh request_id on one shared socket, so calls run
 * concurrently and never take each other's frames; MCP cancellation becomes
 * the `cancel` op, and a call is never re-sent under another id.
 */
export class McpBridge {
  readonly server: Server;

  constructor(
    private readonly client: ExaiClient,
    private readonly log: BridgeLog,
  ) {
    this.client.on('connected', (session: string) => this.log(`Connected to the daemon (session ${session})`));
    this.client.on('disconnected', (code: number) => this.log(`Lost the daemon connection (${code})`));
    const pkg = readPackageInfo();
    this.server = new Server({ name: 'exai-mcp', version: pkg.version }, { capabilities: { tools: {} } });
    this.server.setRequestHandler(ListToolsRequestSchema, async () => {
      const tools = await this.client.listTools();
      return {
        tools: tools.map((t) => ({
          name: t.name,
          description: t.description,
          inputSchema: { type: 'object' as const, ...t.inputSchema },
        })),
      };
    });
    this.server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
      const { name, arguments: args = {} } = request.params;
      const progressToken = request.params._meta?.progressToken;
      let step = 0;
      const onProgress = (p: ProgressInfo) => {
        if (progressToken === undefined) return;
        const message = describeProgress(p);
        // Progress notifications are best-effort; a failed one must not fail the call.
        extra
          .sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: ++step, ...(message ? { message } : {}) },
          })
          .catch(() => undefined);
      };
      try {
        const result = await this.client.callTool(name, args, { signal: extra.signal, onProgress });
        if (!result.fromCache) return { content: [{ type: 'text', text: result.content }] };
        // A second text block, so the agent reads it too; _meta for hosts that look.
        return {
          content: [
            { type: 'text', text: result.content },
            { type: 'text', text: FROM_CACHE_NOTE },
          ],
          _meta: { 'exai/from_cache': true },
        };
      } catch (err) {
        return { content: [{ type: 'text', text: describeError(err) }], isError: true };
      }
    });
  }

  async start(transport: Transport): Promise<void> {
    this.connectInBackground();
    await this.server.connect(transport);
  }

  async close(): Promise<void> {
    this.client.close();
    await this.server.close();
  }

  /** The MCP host starts us whether or not the daemon is up yet; keep trying. */
  private connectInBackground(attempt = 0): void {
    this.client.connect().catch((err: unknown) => {
      const delay = Math.min(5000, 250 * 2 ** attempt);
      this.log(`Daemon not reachable (${(err as Error).message}); retrying in ${delay} ms`);
      setTimeout(() => this.connectInBackground(attempt + 1), delay).unref();
    });
  }
}

function describeProgress(p: ProgressInfo): string | undefined {
  if (p.note === 'queued') return `queued (position ${p.position ?? '?'}, waiting for ${p.waiting_for ?? 'a slot'})`;
  if (p.note === 'accepted') return 'accepted';
  return p.message;
}

/** The tool error an agent reads: the code, the message, and when to retry. */
export function describeError(err: unknown): string {
  if (err instanceof ExaiCallError) {
    if (err.code === 'OVER_CAPACITY') {
      const limit = typeof err.fields.limit === 'string' ? ` (${err.fields.limit} limit)` : '';
      return `OVER_CAPACITY${limit}: ${err.message}. Retry after ${err.retryAfter ?? 1} s.`;
    }
    const retry = err.retryAfter !== undefined ? ` Retry after ${err.retryAfter} s.` : '';
    return `${err.code}: ${err.message}.${retry}`;
  }
  return `EXEC_ERROR: ${(err as Error)?.message ?? String(err)}`;
}
