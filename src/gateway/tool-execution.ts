import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import type { ProgressLevel } from '../tools/tool.types';
import type { RegisteredTool } from '../tools/tool-registry.service';
import type { ClientConnection } from './client-connection';
import type { TextOutput } from './dto/server-frames';

/** What a running execution reports to everyone attached to it. */
export type ExecutionEvent =
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
  settled = false;

  constructor(
    readonly tool: RegisteredTool,
    readonly args: Record<string, unknown>,
    readonly callKey: string | undefined,
    readonly timeoutSecs: number,
    readonly origin: { requestId: string; sessionId: string; conn: ClientConnection },
  ) {}
}
