import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import type { ProgressLevel } from '../tools/tool.types';
import type { RegisteredTool } from '../tools/tool-registry.service';
import type { ClientConnection } from './client-connection';
import type { TextOutput } from './dto/server-frames';

/** What a running execution reports to everyone attached to it. */
export type ExecutionEvent =
  | { kind: 'queued'; position: number; waitingFor: string }
  | { kind: 'admitted'; timeoutSecs: number }
  | { kind: 'progress'; message: string; level: ProgressLevel }
  | { kind: 'result'; outputs: TextOutput[] };

/** One caller of an execution: the call that started it, or one that joined it. */
export interface CallParticipant {
  readonly requestId: string;
  /** False when the server made the id up: such calls are never replayed by id. */
  readonly replayable: boolean;
  readonly conn: ClientConnection;
  readonly sessionId: string;
  readonly toolName: string;
  /** Identifies the call (tool and arguments), so an id is replayed or joined only by the same call. */
  readonly fingerprint: string;
  readonly joined: boolean;
  cancel(reason: Error): void;
}

/**
 * One tool run, shared by every identical call that joined it. It is aborted
 * when its deadline passes, at shutdown, or when its last participant leaves.
 */
export class ToolExecution {
  readonly id = randomUUID();
  readonly abort = new AbortController();
  readonly participants = new Set<CallParticipant>();
  events$!: Observable<ExecutionEvent>;
  startedAt = 0;
  deadline = 0;
  /** The tool's execute() was called. */
  toolStarted = false;
  /** The tool's promise resolved or rejected. */
  settled = false;
  /** The lease is held by this run (from admission until the lifecycle releases it). */
  leaseHeld = false;
  readonly whenSettled: Promise<void>;
  private markSettled!: () => void;

  constructor(
    readonly tool: RegisteredTool,
    readonly args: Record<string, unknown>,
    readonly callKey: string | undefined,
    readonly timeoutSecs: number,
    readonly provider: string | undefined,
    readonly origin: { requestId: string; sessionId: string; conn: ClientConnection },
    /** Runs without a permit (no model call); see PreparedCall.local. */
    readonly local = false,
  ) {
    this.whenSettled = new Promise((resolve) => (this.markSettled = resolve));
  }

  settle(): void {
    this.settled = true;
    this.markSettled();
  }

  /** Some caller is still connected, or the run is settling after an abort. */
  hasLiveCaller(): boolean {
    if (this.abort.signal.aborted && !this.settled) return true;
    for (const p of this.participants) if (p.conn.socket.readyState === p.conn.socket.OPEN) return true;
    return false;
  }
}
