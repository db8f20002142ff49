import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { concat, defer, Observable, of } from 'rxjs';
import { finalize, tap } from 'rxjs/operators';
import type { WebSocket } from 'ws';
import type { CallToolFrame } from './dto/client-frames';
import { CallCancelledError, CallError, CallTimeoutError } from './gateway.errors';
import { ToolCallsService } from './tool-calls.service';
import type { ExecutionEvent, ToolExecution } from './tool-execution';

/**
 * The one seam every gateway message passes through. Control messages pass
 * untouched; a `call_tool` is planned, then its run gets a deadline and an
 * AbortSignal, and everything it holds is released in `finalize`, which runs
 * on every ending: result, error, deadline, cancel, disconnect and shutdown.
 */
@Injectable()
export class ToolCallInterceptor implements NestInterceptor {
  private readonly logger = new Logger(ToolCallInterceptor.name);
  constructor(private readonly calls: ToolCallsService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ws = context.switchToWs();
    if (context.getType() !== 'ws' || ws.getPattern() !== 'call_tool') return next.handle();
    const frame = ws.getData<CallToolFrame>();
    const plan = this.calls.plan(ws.getClient<WebSocket>(), frame);
    switch (plan.kind) {
      case 'immediate':
        return of(plan.frame);
      case 'join':
        return this.calls.participate(plan.execution, plan.participant, true);
      case 'run':
        this.calls.register(plan.execution, frame, this.run(plan.execution, next));
        return this.calls.participate(plan.execution, plan.participant, false);
    }
  }

  /** Cold until the first participant subscribes; torn down when the last one leaves. */
  protected run(execution: ToolExecution, next: CallHandler): Observable<ExecutionEvent> {
    return defer(() => {
      const { signal } = execution.abort;
      execution.startedAt = Date.now();
      execution.deadline = execution.startedAt + execution.timeoutSecs * 1000;
      const deadline = setTimeout(
        () => execution.abort.abort(new CallTimeoutError(execution.timeoutSecs)),
        execution.timeoutSecs * 1000,
      );
      const work$ = concat(
        of<ExecutionEvent>({ kind: 'admitted', timeoutSecs: execution.timeoutSecs }),
        next.handle() as Observable<ExecutionEvent>,
      );
      // The abort wins over a tool that ignores its signal: the caller gets the
      // terminal frame at the deadline, not whenever the tool gives up.
      const abortable$ = new Observable<ExecutionEvent>((subscriber) => {
        const onAbort = () => subscriber.error(this.abortReason(signal));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        const sub = work$.subscribe(subscriber);
        return () => {
          signal.removeEventListener('abort', onAbort);
          sub.unsubscribe();
        };
      });
      let outcome = 'abandoned';
      return abortable$.pipe(
        tap({
          next: (ev) => {
            if (ev.kind === 'result') outcome = 'success';
          },
          error: (err: unknown) => {
            outcome = err instanceof CallError ? err.code : 'EXEC_ERROR';
          },
        }),
        finalize(() => {
          clearTimeout(deadline);
          this.calls.unregister(execution);
          // Reached without a settled tool only when every caller left (or the
          // run was aborted): stop the tool's upstream work too.
          if (!execution.settled && !signal.aborted) execution.abort.abort(new CallCancelledError('All callers left'));
          this.logger.log({
            msg: 'Call ended',
            request_id: execution.origin.requestId,
            session_id: execution.origin.sessionId,
            tool: execution.tool.name,
            outcome,
            duration_ms: Date.now() - execution.startedAt,
            participants: execution.participants.size,
          });
        }),
      );
    });
  }

  private abortReason(signal: AbortSignal): Error {
    const reason: unknown = signal.reason;
    return reason instanceof CallError || reason instanceof Error ? reason : new CallCancelledError();
  }
}
