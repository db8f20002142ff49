import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash, randomUUID } from 'node:crypto';
import { defer, EMPTY, from, Observable, of, ReplaySubject, share, Subscription } from 'rxjs';
import { concatMap, filter, tap } from 'rxjs/operators';
import type { WebSocket } from 'ws';
import { stableJson } from '../common/stable-json';
import { MetricsService } from '../metrics/metrics.service';
import { ToolRegistryService, RegisteredTool } from '../tools/tool-registry.service';
import type { ProgressLevel, ToolOutput, ToolResult } from '../tools/tool.types';
import type { ClientConnection } from './client-connection';
import { ConnectionsService } from './connections.service';
import type { CallToolFrame } from './dto/client-frames';
import { CallFrame, CallToolResultFrame, epochSeconds, TextOutput } from './dto/server-frames';
import { CallCancelledError } from '../common/call.errors';
import { InvalidMessageError, RequestIdInUseError, UnknownRequestError } from './gateway.errors';
import { gatewayConfig } from './gateway.config';
import { ResultCacheService } from './result-cache.service';
import { CallParticipant, ExecutionEvent, ToolExecution } from './tool-execution';

/**
 * The provider limit a call takes when its tool does not declare one: by
 * model name prefix. Other models take the global and session limits only.
 */
export function providerForModel(model: unknown): string | undefined {
  if (typeof model !== 'string') return undefined;
  const m = model.toLowerCase();
  if (m.startsWith('kimi-') || m.startsWith('moonshot-')) return 'KIMI';
  if (m.startsWith('glm-')) return 'GLM';
  return undefined;
}

/** What to do with an incoming `call_tool`, decided before any slot is taken. */
export type CallPlan =
  | { kind: 'immediate'; frame: CallToolResultFrame }
  | { kind: 'join'; execution: ToolExecution; participant: ParticipantSeed }
  | { kind: 'run'; execution: ToolExecution; participant: ParticipantSeed };

interface ParticipantSeed {
  requestId: string;
  replayable: boolean;
  conn: ClientConnection;
  sessionId: string;
  toolName: string;
  fingerprint: string;
}

@Injectable()
export class ToolCallsService {
  private readonly logger = new Logger(ToolCallsService.name);
  /** In-flight executions by call key, for coalescing identical calls. */
  private readonly byKey = new Map<string, ToolExecution>();
  private readonly executions = new Set<ToolExecution>();
  /** Live participants by session, then request id, for `cancel` and in-flight duplicates. */
  private readonly bySession = new Map<string, Map<string, CallParticipant>>();
  /** Hands the execution from the interceptor to the handler of the same frame. */
  private readonly byFrame = new WeakMap<object, ToolExecution>();

  constructor(
    @Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>,
    private readonly registry: ToolRegistryService,
    private readonly connections: ConnectionsService,
    private readonly results: ResultCacheService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Steps 1–6 of the call lifecycle: name, arguments, replay, result cache and
   * coalescing. Rejects with the typed error that ends the call before it
   * starts. A new run is registered (made joinable, with the run `runOf`
   * builds) in the same synchronous step as the coalescing check after the
   * last await, so two identical calls planned at once cannot both miss.
   */
  async plan(
    socket: WebSocket,
    frame: CallToolFrame,
    runOf: (execution: ToolExecution) => Observable<ExecutionEvent>,
  ): Promise<CallPlan> {
    const conn = this.connections.get(socket);
    if (!conn?.sessionId) throw new InvalidMessageError('connection is not ready');
    const replayable = frame.request_id !== undefined;
    // Written back into the frame so the exception filter, which sees only the
    // frame, answers with the same id the other frames carry.
    frame.request_id ??= randomUUID();
    const tool = this.registry.resolve(frame.name);
    const validated = this.registry.validateArguments(tool, frame.arguments ?? {});
    const sessionId = conn.sessionId;
    const seed: ParticipantSeed = {
      requestId: frame.request_id,
      replayable,
      conn,
      sessionId,
      toolName: tool.name,
      fingerprint: this.digest(tool.name, validated),
    };

    // Before prepare(): a retry is answered as it was, even if routing would
    // now pick another model or its thread has expired since.
    if (seed.replayable) {
      const replay = await this.results.replay(sessionId, seed.requestId);
      // A finished id reused for another call runs that call (protocol.md).
      if (replay?.fingerprint === seed.fingerprint) return { kind: 'immediate', frame: replay.frame };
      const joined = this.joinRunning(seed);
      if (joined) return joined;
    }

    const prepared = await this.registry.prepare(tool, validated, { sessionId });
    const args = prepared.args;
    const callKey = this.shareKey(tool, args, sessionId);
    if (callKey) {
      const outputs = await this.results.cachedOutputs(callKey);
      if (outputs) {
        const hit: CallToolResultFrame = { ...this.resultFrame(seed.requestId, outputs), from_cache: true };
        if (seed.replayable) await this.results.storeReplay(sessionId, seed.fingerprint, hit);
        this.metrics.calls.inc({ tool: tool.name, outcome: 'cached' });
        return { kind: 'immediate', frame: hit };
      }
    }
    // Again after the await: the same id or an identical call may have started meanwhile.
    const joined = seed.replayable ? this.joinRunning(seed) : undefined;
    if (joined) return joined;
    const running = callKey ? this.byKey.get(callKey) : undefined;
    if (running) return { kind: 'join', execution: running, participant: seed };

    const timeoutSecs =
      prepared.timeoutSecs !== undefined ? Math.max(1, Math.ceil(prepared.timeoutSecs)) : this.timeoutFor(tool, args);
    const provider = prepared.provider ?? tool.options.provider ?? providerForModel(args.model);
    const execution = new ToolExecution(
      tool,
      args,
      callKey,
      timeoutSecs,
      provider,
      { requestId: seed.requestId, sessionId, conn },
      prepared.local === true,
    );
    this.register(execution, frame, runOf(execution));
    return { kind: 'run', execution, participant: seed };
  }

  /**
   * The running call of this session with the same request_id, to join.
   * @throws RequestIdInUseError when that id runs a different call.
   */
  private joinRunning(seed: ParticipantSeed): CallPlan | undefined {
    const running = this.bySession.get(seed.sessionId)?.get(seed.requestId);
    if (running && running.fingerprint !== seed.fingerprint) {
      throw new RequestIdInUseError(seed.requestId, running.toolName);
    }
    const execution = running && this.executionOf(running);
    return execution ? { kind: 'join', execution, participant: seed } : undefined;
  }

  /** Makes a planned execution joinable and lets the handler find it. */
  register(execution: ToolExecution, frame: object, run$: Observable<ExecutionEvent>): void {
    execution.events$ = run$.pipe(
      tap((ev) => {
        if (ev.kind !== 'result') return;
        // Unregister before anyone sees the result, so no caller can join an
        // execution that has nothing more to send.
        this.unregister(execution);
        if (execution.callKey) void this.results.storeOutputs(execution.callKey, ev.outputs);
      }),
      // ReplaySubject(1): a participant that attaches between the result and
      // the completion still receives the result. refCount reset: when the
      // last participant leaves, the run is unsubscribed and so aborted.
      share({
        connector: () => new ReplaySubject(1),
        resetOnError: false,
        resetOnComplete: false,
        resetOnRefCountZero: true,
      }),
    );
    this.executions.add(execution);
    if (execution.callKey) this.byKey.set(execution.callKey, execution);
    this.byFrame.set(frame, execution);
  }

  unregister(execution: ToolExecution): void {
    this.executions.delete(execution);
    if (execution.callKey && this.byKey.get(execution.callKey) === execution) this.byKey.delete(execution.callKey);
  }

  /** The handler side: runs the tool of the execution planned for this frame. */
  execute(frame: object): Observable<ExecutionEvent> {
    const execution = this.byFrame.get(frame);
    if (!execution) return EMPTY;
    this.byFrame.delete(frame);
    return new Observable<ExecutionEvent>((subscriber) => {
      const { tool, args } = execution;
      const ctx = {
        requestId: execution.origin.requestId,
        sessionId: execution.origin.sessionId,
        signal: execution.abort.signal,
        deadline: execution.deadline,
        progress: (message: string, level: ProgressLevel = 'info') =>
          subscriber.next({ kind: 'progress', message, level }),
      };
      execution.toolStarted = true;
      const running = Promise.resolve().then(() => tool.handler.execute(args, ctx));
      // Settlement is tracked on the promise itself, not on this subscription:
      // after an abort the subscription is gone, but the lease waits for it.
      running.then(
        () => execution.settle(),
        () => execution.settle(),
      );
      const sub: Subscription = from(running).subscribe({
        next: (result) => {
          subscriber.next({ kind: 'result', outputs: [this.toOutput(tool, result, execution.startedAt)] });
          subscriber.complete();
        },
        error: (err: unknown) => subscriber.error(err),
      });
      return () => sub.unsubscribe();
    });
  }

  /**
   * The frames one caller receives. Tool progress goes only to the caller that
   * started the run; joiners get their own ack and the same result.
   */
  participate(execution: ToolExecution, seed: ParticipantSeed, joined: boolean): Observable<CallFrame> {
    return defer(() => {
      let cancelWith: (reason: Error) => void = () => undefined;
      const participant: CallParticipant = { ...seed, joined, cancel: (reason) => cancelWith(reason) };
      return new Observable<CallFrame>((subscriber) => {
        cancelWith = (reason) => subscriber.error(reason);
        this.track(participant);
        execution.participants.add(participant);
        const name = seed.toolName;
        if (joined) {
          subscriber.next({
            op: 'call_tool_ack',
            request_id: seed.requestId,
            accepted: true,
            timeout: execution.timeoutSecs,
            name,
            joined: execution.origin.requestId,
          });
        } else {
          subscriber.next({ op: 'progress', request_id: seed.requestId, name, t: epochSeconds(), note: 'accepted' });
        }
        const heartbeat = setInterval(
          () => subscriber.next({ op: 'progress', request_id: seed.requestId, name, t: epochSeconds() }),
          this.config.progressIntervalMs,
        );
        const events = execution.events$
          .pipe(
            filter((ev) => !joined || ev.kind === 'result'),
            // The result goes out once its replay is stored, so a client that
            // has it can replay it on any daemon; other frames pass at once.
            concatMap((ev) => {
              if (ev.kind !== 'result' || !participant.replayable) return of(this.frameFor(ev, participant));
              const frame = this.resultFrame(participant.requestId, ev.outputs);
              return from(
                this.results.storeReplay(participant.sessionId, participant.fingerprint, frame).then(() => frame),
              );
            }),
          )
          .subscribe(subscriber);
        return () => {
          clearInterval(heartbeat);
          events.unsubscribe();
          execution.participants.delete(participant);
          this.untrack(participant);
        };
      });
    });
  }

  /** The `cancel` op: ends that caller's call with CANCELLED. */
  cancel(socket: WebSocket, requestId: string): void {
    const conn = this.connections.get(socket);
    const participant = conn?.sessionId ? this.bySession.get(conn.sessionId)?.get(requestId) : undefined;
    if (!participant) throw new UnknownRequestError(requestId);
    participant.cancel(new CallCancelledError());
  }

  /** Aborts every execution with `reason`; each caller gets the matching error frame. */
  abortAll(reason: Error): number {
    const all = [...this.executions];
    for (const execution of all) execution.abort.abort(reason);
    return all.length;
  }

  inFlight(): number {
    return this.executions.size;
  }

  private frameFor(ev: ExecutionEvent, p: CallParticipant): CallFrame {
    switch (ev.kind) {
      case 'queued':
        return {
          op: 'progress',
          request_id: p.requestId,
          name: p.toolName,
          t: epochSeconds(),
          note: 'queued',
          waiting_for: ev.waitingFor,
          position: ev.position,
        };
      case 'admitted':
        return {
          op: 'call_tool_ack',
          request_id: p.requestId,
          accepted: true,
          timeout: ev.timeoutSecs,
          name: p.toolName,
        };
      case 'progress':
        return {
          op: 'progress',
          request_id: p.requestId,
          name: p.toolName,
          t: epochSeconds(),
          message: ev.message,
          level: ev.level,
        };
      case 'result':
        return this.resultFrame(p.requestId, ev.outputs);
    }
  }

  private resultFrame(requestId: string, outputs: TextOutput[]): CallToolResultFrame {
    const frame: CallToolResultFrame = { op: 'call_tool_res', request_id: requestId, outputs };
    if (this.config.compatText) frame.text = outputs.map((o) => o.text).join('\n\n');
    return frame;
  }

  private toOutput(tool: RegisteredTool, result: ToolResult, startedAt: number): TextOutput {
    const output: ToolOutput = {
      status: 'success',
      content: result.content,
      content_type: result.contentType ?? 'text',
      metadata: { tool: tool.name, ...(result.metadata ?? {}), duration_ms: Date.now() - startedAt },
    };
    return { type: 'text', text: JSON.stringify(output) };
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

  private digest(toolName: string, args: Record<string, unknown>, sessionId?: string): string {
    // JSON keeps the parts unambiguous whatever characters they contain.
    return createHash('sha256')
      .update(JSON.stringify([sessionId ?? null, toolName]))
      .update(stableJson(args))
      .digest('hex');
  }

  private timeoutFor(tool: RegisteredTool, args: Record<string, unknown>): number {
    const t = tool.options.timeoutSecs;
    const secs = typeof t === 'function' ? t(args) : (t ?? this.config.toolTimeoutSecs);
    return Math.max(1, Math.ceil(secs));
  }

  private executionOf(p: CallParticipant): ToolExecution | undefined {
    for (const e of this.executions) if (e.participants.has(p)) return e;
    return undefined;
  }

  private track(p: CallParticipant): void {
    let calls = this.bySession.get(p.sessionId);
    if (!calls) {
      calls = new Map();
      this.bySession.set(p.sessionId, calls);
    }
    calls.set(p.requestId, p);
  }

  private untrack(p: CallParticipant): void {
    const calls = this.bySession.get(p.sessionId);
    if (calls?.get(p.requestId) === p) calls.delete(p.requestId);
    if (calls?.size === 0) this.bySession.delete(p.sessionId);
  }
}
