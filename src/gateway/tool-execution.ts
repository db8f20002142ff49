import { AbortSource, CallEnd } from '../common/call-end';
import type { LeasedWork } from '../concurrency/lease-release';
import type { RegisteredTool } from '../tools/tool-registry.service';
import type { PreparedCall, ProgressLevel, ToolContext, ToolResult } from '../tools/tool.types';
import type { ClientConnection } from './client-connection';
import type { TextOutput } from './dto/server-frames';
import type { SharedRun } from './shared-run';

/** What a running execution reports to everyone attached to it. */
export type ExecutionEvent =
  | { kind: 'queued'; position: number; waitingFor: string }
  | { kind: 'admitted'; timeoutSecs: number }
  | { kind: 'progress'; message: string; level: ProgressLevel }
  | { kind: 'result'; outputs: TextOutput[] };

/**
 * One call, from the moment it is planned to its terminal frame: the call
 * that started an execution, or one that joined it. It is registered before
 * planning awaits anything, so a `cancel` sent right behind the call finds it.
 */
export class CallParticipant {
  private readonly endedBy = new CallEnd();
  private attachedTo?: ToolExecution;
  private asJoiner = false;

  constructor(
    readonly requestId: string,
    /** False when the server made the id up: such calls are never replayed by id. */
    readonly replayable: boolean,
    readonly conn: ClientConnection,
    readonly sessionId: string,
    readonly toolName: string,
    /** Identifies the call (tool and arguments), so an id is replayed or joined only by the same call. */
    readonly fingerprint: string,
  ) {}

  /** The execution this call runs or joined; undefined while it is planned. */
  get execution(): ToolExecution | undefined {
    return this.attachedTo;
  }

  get joined(): boolean {
    return this.asJoiner;
  }

  /** Aborted when this call ends early (`cancel`): its stream fails with the reason. */
  get ended(): AbortSource {
    return this.endedBy;
  }

  cancel(reason: Error): void {
    this.endedBy.abort(reason);
  }

  /** Once, by the registry, when the call starts or joins a run. */
  attach(execution: ToolExecution, joined: boolean): void {
    this.attachedTo = execution;
    this.asJoiner = joined;
  }
}

/** A tool's view of its run. Its `signal` is made only when the tool reads it: most never do. */
class RunContext implements ToolContext {
  constructor(
    readonly requestId: string,
    readonly sessionId: string,
    private readonly end: CallEnd,
    readonly deadline: number,
    readonly plan: PreparedCall,
    readonly progress: (message: string, level?: ProgressLevel) => void,
  ) {}

  get signal(): AbortSignal {
    return this.end.signal;
  }
}

/** What the plan decided for a run: the tool, how it runs, and who started it. */
export interface ExecutionPlan {
  readonly tool: RegisteredTool;
  /** What the tool's prepare() resolved (arguments, model route, the tool's own decision). */
  readonly prepared: PreparedCall;
  /** Result-cache and coalescing key; undefined when the call must run on its own. */
  readonly callKey: string | undefined;
  readonly timeoutSecs: number;
  /** The provider limit the call takes, if any. */
  readonly provider: string | undefined;
  readonly origin: { readonly requestId: string; readonly sessionId: string; readonly conn: ClientConnection };
}

/**
 * One tool run, shared by every identical call that joined it. It owns its
 * state: the lifecycle moves it on (`share`, `start`, `run`) and reads it, no
 * one else writes it. It is aborted when its deadline passes, at shutdown, by
 * the leak audit, or when its last participant leaves.
 */
export class ToolExecution implements LeasedWork {
  readonly participants = new Set<CallParticipant>();
  readonly whenSettled: Promise<void>;
  private readonly end = new CallEnd();
  private shared?: SharedRun<ExecutionEvent>;
  private startedAtMs = 0;
  private toolStarted = false;
  private toolSettled = false;
  private markSettled!: () => void;

  constructor(readonly plan: ExecutionPlan) {
    this.whenSettled = new Promise((resolve) => (this.markSettled = resolve));
  }

  get tool(): RegisteredTool {
    return this.plan.tool;
  }

  get args(): Record<string, unknown> {
    return this.plan.prepared.args;
  }

  /** Runs without a permit (no model call); see PreparedCall.local. */
  get local(): boolean {
    return this.plan.prepared.local === true;
  }

  /** The run's end (deadline, shutdown, audit, every caller gone); an AbortSignal is made only if a tool asks. */
  get signal(): AbortSource {
    return this.end;
  }

  /** Admission time (epoch ms), 0 until admitted. */
  get startedAt(): number {
    return this.startedAtMs;
  }

  get deadline(): number {
    return this.startedAtMs + this.plan.timeoutSecs * 1000;
  }

  /** The tool's execute() was called (a provider request may be open). */
  get started(): boolean {
    return this.toolStarted;
  }

  /** The tool's promise resolved or rejected. */
  get settled(): boolean {
    return this.toolSettled;
  }

  /** The run's events, shared by every participant. */
  get events(): SharedRun<ExecutionEvent> {
    if (!this.shared) throw new Error(`execution of ${this.plan.origin.requestId} has no run`);
    return this.shared;
  }

  abort(reason: Error): void {
    this.end.abort(reason);
  }

  /** Set once, by the lifecycle, before anyone can join. */
  share(run: SharedRun<ExecutionEvent>): void {
    this.shared = run;
  }

  /** Admitted at `at`: the deadline runs from here. */
  start(at: number): void {
    this.startedAtMs = at;
  }

  /**
   * Calls the tool with what the plan resolved. Settlement is tracked on the
   * promise itself, not on whoever awaits it: after an abort the caller is
   * gone, but the lease waits for the tool to settle.
   */
  run(progress: (message: string, level?: ProgressLevel) => void): Promise<ToolResult> {
    const { origin, prepared } = this.plan;
    const ctx = new RunContext(origin.requestId, origin.sessionId, this.end, this.deadline, prepared, progress);
    this.toolStarted = true;
    const running = Promise.resolve().then(() => this.plan.tool.handler.execute(prepared.args, ctx));
    const settle = () => {
      this.toolSettled = true;
      this.markSettled();
    };
    running.then(settle, settle);
    return running;
  }

  /** Some caller is still connected, or the run is settling after an abort. */
  hasLiveCaller(): boolean {
    if (this.end.aborted && !this.toolSettled) return true;
    for (const p of this.participants) if (p.conn.socket.readyState === p.conn.socket.OPEN) return true;
    return false;
  }
}
