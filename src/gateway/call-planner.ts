import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash, randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { stableJson } from '../common/stable-json';
import { MetricsService } from '../metrics/metrics.service';
import { RegisteredTool, ToolRegistryService } from '../tools/tool-registry.service';
import type { PreparedCall } from '../tools/tool.types';
import { CallFrames, EncodedFrame, OutFrame } from './call-frames';
import { CallRegistry } from './call-registry';
import { ConnectionsService } from './connections.service';
import type { CallToolFrame } from './dto/client-frames';
import { gatewayConfig } from './gateway.config';
import { InvalidMessageError, RequestIdInUseError } from './gateway.errors';
import { ResultCacheService } from './result-cache.service';
import { CallParticipant, ExecutionPlan, ToolExecution } from './tool-execution';

/**
 * Calls whose JSON is at most this long are keyed by it (a SHA-256 hex digest
 * is 64 characters; this keeps a replay entry's key within a few of those).
 */
const INLINE_KEY_MAX_CHARS = 160;

/** What to do with an incoming `call_tool`, decided before any slot is taken. */
export type CallPlan =
  | { kind: 'answered'; frame: OutFrame }
  | { kind: 'join'; execution: ToolExecution; participant: CallParticipant }
  | { kind: 'run'; execution: ToolExecution; participant: CallParticipant };

/**
 * The first step of the call lifecycle: name, arguments, replay, the tool's
 * prepare (model, provider, deadline), result cache and coalescing. Async,
 * so the replay and result caches may live in an outside store; the lifecycle
 * re-checks coalescing when it starts a run, since another call may have
 * started the same run meanwhile.
 */
@Injectable()
export class CallPlanner {
  constructor(
    @Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>,
    private readonly tools: ToolRegistryService,
    private readonly connections: ConnectionsService,
    private readonly results: ResultCacheService,
    private readonly registry: CallRegistry,
    private readonly frames: CallFrames,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * The call is registered from here on (a `cancel` right behind it finds it)
   * and leaves the registry if it ends here.
   * @throws (rejects with) the typed error that ends the call before it starts.
   */
  async plan(socket: WebSocket, frame: CallToolFrame): Promise<CallPlan> {
    const conn = this.connections.get(socket);
    if (!conn?.sessionId) throw new InvalidMessageError('connection is not ready');
    const replayable = frame.request_id !== undefined;
    // Written back into the frame (before any await) so the exception filter,
    // which sees only the frame, answers with the id the other frames carry.
    frame.request_id ??= randomUUID();
    const tool = this.tools.resolve(frame.name);
    const validated = this.tools.validateArguments(tool, frame.arguments ?? {});
    const sessionId = conn.sessionId;
    const fingerprint = this.digest(tool.name, validated);
    const running = replayable ? this.registry.callerOf(sessionId, frame.request_id) : undefined;
    if (running && running.fingerprint !== fingerprint) {
      throw new RequestIdInUseError(frame.request_id, running.toolName);
    }
    const participant = new CallParticipant(frame.request_id, replayable, conn, sessionId, tool.name, fingerprint);
    this.registry.enter(participant);
    try {
      const plan = await this.decide(participant, tool, validated, running?.execution);
      if (plan.kind === 'answered') this.registry.leave(participant);
      return plan;
    } catch (err) {
      this.registry.leave(participant);
      throw err;
    }
  }

  private async decide(
    participant: CallParticipant,
    tool: RegisteredTool,
    validated: Record<string, unknown>,
    sameIdRunning: ToolExecution | undefined,
  ): Promise<CallPlan> {
    const { sessionId, requestId, replayable, fingerprint } = participant;
    // Before prepare(): a retry is answered as it was, even if routing would
    // now pick another model or its thread has expired since.
    if (replayable) {
      const replay = await this.results.replay(sessionId, requestId);
      // A finished id reused for another call runs that call (protocol.md).
      if (replay?.fingerprint === fingerprint) return { kind: 'answered', frame: replay.frame };
      if (sameIdRunning) return { kind: 'join', execution: sameIdRunning, participant };
    }

    const prepared = await this.tools.prepare(tool, validated, { sessionId });
    const callKey = this.shareKey(tool, prepared.args, sessionId);
    if (callKey) {
      const outputs = await this.results.cachedOutputs(callKey);
      if (outputs) {
        const hit = new EncodedFrame({ ...this.frames.result(requestId, outputs), from_cache: true });
        if (replayable) await this.results.storeReplay(sessionId, fingerprint, requestId, hit);
        this.metrics.calls.inc({ tool: tool.name, outcome: 'cached' });
        return { kind: 'answered', frame: hit };
      }
      const running = this.registry.running(callKey);
      if (running) return { kind: 'join', execution: running, participant };
    }

    const plan: ExecutionPlan = {
      tool,
      prepared,
      callKey,
      timeoutSecs: this.timeoutFor(tool, prepared),
      provider: prepared.provider ?? tool.options.provider,
      origin: { requestId, sessionId, conn: participant.conn },
    };
    return { kind: 'run', execution: new ToolExecution(plan), participant };
  }

  /**
   * The key under which this call may be served from the result cache or join
   * an identical running call, or undefined when it must run on its own: the
   * scope is off, the tool's answer changes between calls, it continues a
   * conversation (each turn must reach the model and advance the thread), or
   * it asks for sampling (temperature above 0).
   */
  private shareKey(tool: RegisteredTool, args: Record<string, unknown>, sessionId: string): string | undefined {
    const scope = this.config.resultCacheScope;
    if (scope === 'off' || tool.options.cacheable === false) return undefined;
    if (this.config.disableCoalesceFor.includes(tool.name)) return undefined;
    if (typeof args.continuation_id === 'string' && args.continuation_id !== '') return undefined;
    if (typeof args.temperature === 'number' && args.temperature > 0) return undefined;
    return this.digest(tool.name, args, scope === 'session' ? sessionId : undefined);
  }

  /**
   * Names the call exactly: its tool, arguments and (for a session-scoped
   * key) session. A small call is named by its JSON itself, which is cheaper
   * than hashing it and can never collide; a larger one by the JSON's
   * SHA-256. The prefix keeps the two forms apart.
   */
  private digest(toolName: string, args: Record<string, unknown>, sessionId?: string): string {
    // JSON keeps the parts unambiguous whatever characters they contain.
    const json = `${JSON.stringify([sessionId ?? null, toolName])}${stableJson(args)}`;
    if (json.length <= INLINE_KEY_MAX_CHARS) return `=${json}`;
    return createHash('sha256').update(json).digest('hex');
  }

  private timeoutFor(tool: RegisteredTool, prepared: PreparedCall): number {
    const t = tool.options.timeoutSecs;
    const secs =
      prepared.timeoutSecs ?? (typeof t === 'function' ? t(prepared.args) : (t ?? this.config.toolTimeoutSecs));
    return Math.max(1, Math.ceil(secs));
  }
}
