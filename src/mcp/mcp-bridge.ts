import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, CallToolResult, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CallSuccess, ExaiCallError, ExaiClient, FROM_CACHE_NOTE, ProgressInfo } from '../client/exai-client';
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
  /** Set when the daemon refused our token: retrying cannot help, so calls fail with this at once. */
  private refused: Error | undefined;

  constructor(
    private readonly client: ExaiClient,
    private readonly log: BridgeLog,
  ) {
    this.client.on('connected', (session: string) => {
      this.log(`Connected to the daemon (session ${session})`);
      // A host that listed tools before the daemon was up (and got none, or
      // an error) asks again; after a daemon restart the list may differ too.
      this.server.sendToolListChanged().catch(() => undefined);
    });
    this.client.on('disconnected', (code: number) => this.log(`Lost the daemon connection (${code})`));
    this.client.on('refused', (err: ExaiCallError) => this.stopRefused(err));
    const pkg = readPackageInfo();
    this.server = new Server(
      { name: 'exai-mcp', version: pkg.version },
      { capabilities: { tools: { listChanged: true } } },
    );
    this.server.setRequestHandler(ListToolsRequestSchema, async () => {
      if (this.refused) throw this.refused;
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
      const started = Date.now();
      const onProgress = (p: ProgressInfo) => {
        if (progressToken === undefined) return;
        const message = describeProgress(p, Date.now() - started);
        // Progress notifications are best-effort; a failed one must not fail the call.
        extra
          .sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: ++step, message },
          })
          .catch(() => undefined);
      };
      if (this.refused) return { content: [{ type: 'text', text: this.refused.message }], isError: true };
      try {
        const result = await this.client.callTool(name, args, { signal: extra.signal, onProgress });
        const answer = toolResult(result);
        if (!result.fromCache) return answer;
        // A text block of its own, so the agent reads it too; _meta for hosts that look.
        return {
          ...answer,
          content: [...answer.content, { type: 'text', text: FROM_CACHE_NOTE }],
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

  /** One clear error, then no more attempts: the same token would be refused forever. */
  private stopRefused(err: ExaiCallError): void {
    if (this.refused) return;
    this.refused = new Error(
      `The daemon at ${this.client.url} refused the connection (${err.message}); ` +
        `set EXAI_WS_TOKEN to the daemon's token and restart the MCP server.`,
    );
    this.log(this.refused.message);
    this.client.close();
  }

  /** The MCP host starts us whether or not the daemon is up yet; keep trying. */
  private connectInBackground(attempt = 0): void {
    this.client.connect().catch((err: unknown) => {
      if (isRefusal(err)) return this.stopRefused(err);
      const delay = Math.min(5000, 250 * 2 ** attempt);
      this.log(`Daemon not reachable (${(err as Error).message}); retrying in ${delay} ms`);
      setTimeout(() => this.connectInBackground(attempt + 1), delay).unref();
    });
  }
}

/** Every notification says something: heartbeats become "working (N s)". */
function describeProgress(p: ProgressInfo, elapsedMs: number): string {
  if (p.note === 'queued') return `queued (position ${p.position ?? '?'}, waiting for ${p.waiting_for ?? 'a slot'})`;
  if (p.note === 'accepted') return 'accepted';
  return p.message || `working (${Math.round(elapsedMs / 1000)} s)`;
}

function isRefusal(err: unknown): err is ExaiCallError {
  return err instanceof ExaiCallError && err.code === 'HELLO_REFUSED';
}

/**
 * The answer as text, and for LLM tools what a host needs to continue:
 * `continuation_id`, the model and the usage, both as structuredContent and
 * as a one-line footer block for hosts that only show text.
 */
export function toolResult(result: CallSuccess): CallToolResult {
  const meta = result.metadata ?? {};
  const continuationId = typeof meta.continuation_id === 'string' ? meta.continuation_id : undefined;
  const model = typeof meta.model === 'string' ? meta.model : undefined;
  const usage = isRecord(meta.usage) ? meta.usage : undefined;
  if (continuationId === undefined && model === undefined && usage === undefined) {
    return { content: [{ type: 'text', text: result.content }] };
  }
  const footer = [
    model !== undefined ? `model ${model}` : undefined,
    usage !== undefined
      ? `tokens ${String(usage.prompt_tokens)} in / ${String(usage.completion_tokens)} out`
      : undefined,
    continuationId !== undefined ? `continuation_id ${continuationId}` : undefined,
  ].filter((part) => part !== undefined);
  return {
    // The footer is its own block: the answer's text stays exactly the tool's
    // content (JSON bodies stay parseable), and text-only hosts still show it.
    content: [
      { type: 'text', text: result.content },
      { type: 'text', text: `— ${footer.join(' · ')}` },
    ],
    structuredContent: {
      content: result.content,
      ...(continuationId !== undefined ? { continuation_id: continuationId } : {}),
      ...(model !== undefined ? { model } : {}),
      ...(typeof meta.provider === 'string' ? { provider: meta.provider } : {}),
      ...(usage !== undefined ? { usage } : {}),
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
