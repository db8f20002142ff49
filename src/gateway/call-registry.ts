import { Injectable } from '@nestjs/common';
import { CallCancelledError } from '../common/call.errors';
import type { ClientConnection } from './client-connection';
import { UnknownRequestError } from './gateway.errors';
import type { CallParticipant, ToolExecution } from './tool-execution';

/**
 * Who is running what: executions by call key (for coalescing), every live
 * execution (for shutdown and health), and live calls by session and request
 * id, from planning to their terminal frame (for `cancel`, joins by id and
 * in-flight duplicates).
 */
@Injectable()
export class CallRegistry {
  private readonly executions = new Set<ToolExecution>();
  private readonly byKey = new Map<string, ToolExecution>();
  private readonly bySession = new Map<string, Map<string, CallParticipant>>();

  /** The running execution an identical call may join. */
  running(callKey: string | undefined): ToolExecution | undefined {
    return callKey === undefined ? undefined : this.byKey.get(callKey);
  }

  /** The live call of this session under this request id. */
  callerOf(sessionId: string, requestId: string): CallParticipant | undefined {
    return this.bySession.get(sessionId)?.get(requestId);
  }

  add(execution: ToolExecution): void {
    this.executions.add(execution);
    const key = execution.plan.callKey;
    if (key !== undefined) this.byKey.set(key, execution);
  }

  /** Idempotent: a run leaves at its result (so no one joins a finished run) and again at its end. */
  remove(execution: ToolExecution): void {
    this.executions.delete(execution);
    const key = execution.plan.callKey;
    if (key !== undefined && this.byKey.get(key) === execution) this.byKey.delete(key);
  }

  /** A call being planned; the newest call under an id is the one `cancel` reaches. */
  enter(participant: CallParticipant): void {
    let calls = this.bySession.get(participant.sessionId);
    if (!calls) {
      calls = new Map();
      this.bySession.set(participant.sessionId, calls);
    }
    calls.set(participant.requestId, participant);
  }

  attach(participant: CallParticipant, execution: ToolExecution, joined: boolean): void {
    participant.attach(execution, joined);
    execution.participants.add(participant);
  }

  /** The call has ended (or was answered without a run). */
  leave(participant: CallParticipant): void {
    participant.execution?.participants.delete(participant);
    const calls = this.bySession.get(participant.sessionId);
    if (calls?.get(participant.requestId) === participant) calls.delete(participant.requestId);
    if (calls?.size === 0) this.bySession.delete(participant.sessionId);
  }

  /**
   * A connection closed: calls of it still being planned will never be
   * attended (their stream is gone), so they leave here. Attended calls leave
   * when their stream ends.
   */
  forget(conn: ClientConnection): void {
    const calls = conn.sessionId === undefined ? undefined : this.bySession.get(conn.sessionId);
    if (!calls) return;
    for (const p of calls.values()) if (p.conn === conn && !p.execution) this.leave(p);
  }

  /** The `cancel` op: ends that caller's call with CANCELLED. @throws UnknownRequestError */
  cancel(sessionId: string | undefined, requestId: string): void {
    const participant = sessionId === undefined ? undefined : this.callerOf(sessionId, requestId);
    if (!participant) throw new UnknownRequestError(requestId);
    participant.cancel(new CallCancelledError());
  }

  /** Aborts every execution with `reason`; each caller gets the matching error frame. */
  abortAll(reason: Error): number {
    const all = [...this.executions];
    for (const execution of all) execution.abort(reason);
    return all.length;
  }

  get inFlight(): number {
    return this.executions.size;
  }
}
