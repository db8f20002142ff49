import { CallHandler, ExecutionContext, Inject, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { concat, defer, from, Observable, of, Subscription, switchMap } from 'rxjs';
import type { WebSocket } from 'ws';
import { ActivityService } from '../activity/activity.service';
import { AdmissionOptions, AdmissionService } from '../concurrency/admission.service';
import { concurrencyConfig } from '../concurrency/concurrency.config';
import { releaseAfterSettle } from '../concurrency/lease-release';
import type { Lease, LeaseHolder } from '../concurrency/lease';
import { MetricsService } from '../metrics/metrics.service';
import type { CallToolFrame } from './dto/client-frames';
import { abortError, CallCancelledError, CallTimeoutError, outcomeOf } from '../common/call.errors';
import { ToolCallsService } from './tool-calls.service';
import type { ExecutionEvent, ToolExecution } from './tool-execution';

interface Admitter {
  acquire(holder: LeaseHolder, options: AdmissionOptions): Promise<Lease | undefined>;
}

/** Admission for a local call: granted at once, with no lease. */
const NO_PERMIT: Admitter = { acquire: () => Promise.resolve(undefined) };

/**
 * Every gateway message passes through here. Control messages pass without a
 * permit. A `call_tool` is planned, then its run acquires a lease (global +
 * provider + session, all or nothing) before the tool starts, runs under a
 * deadline and an AbortSignal, and gives the lease back on every ending:
 * result, error, deadline, cancel, disconnect and shutdown.
 */
@Injectable()
export class SemaphoreGuardInterceptor implements NestInterceptor {
  private readonly logger = new Logger(SemaphoreGuardInterceptor.name);

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly calls: ToolCallsService,
    private readonly admission: AdmissionService,
    private readonly metrics: MetricsService,
    private readonly activity: ActivityService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ws = context.switchToWs();
    if (context.getType() !== 'ws' || ws.getPattern() !== 'call_tool') return next.handle();
    const frame = ws.getData<CallToolFrame>();
    // Planning may read state from Redis (a thread, a replay), so it is async;
    // a new run is registered inside it, see ToolCallsService.plan.
    return from(this.calls.plan(ws.getClient<WebSocket>(), frame, (execution) => this.run(execution, next))).pipe(
      switchMap((plan) =>
        plan.kind === 'immediate'
          ? of(plan.frame)
          : this.calls.participate(plan.execution, plan.participant, plan.kind === 'join'),
      ),
    );
  }

  /** Cold until the first participant subscribes; torn down when the last one leaves. */
  protected run(execution: ToolExecution, next: CallHandler): Observable<ExecutionEvent> {
    return new Observable<ExecutionEvent>((subscriber) => {
      const { signal } = execution.abort;
      let lease: Lease | undefined;
      let work: Subscription | undefined;
      let deadline: NodeJS.Timeout | undefined;
      let torn = false;
      let started = false;
      let outcome = 'abandoned';

      // The abort wins over a tool that ignores its signal: callers get the
      // terminal frame at the deadline, not whenever the tool gives up.
      const onAbort = () => subscriber.error(abortError(signal.reason));
      if (signal.aborted) {
        onAbort();
        return undefined;
      }
      signal.addEventListener('abort', onAbort, { once: true });

      // A local call (no model work) takes no permit: it must not queue behind,
      // or hold a slot from, the calls that do talk to a provider.
      const holder = this.holderFor(execution);
      (execution.local ? NO_PERMIT : (this.admission as Admitter))
        .acquire(holder, {
          signal,
          onQueued: (position, waitingFor) => subscriber.next({ kind: 'queued', position, waitingFor }),
        })
        .then(
          (granted) => {
            if (torn) return granted && this.releaseLease(granted, execution);
            lease = granted;
            started = true;
            execution.leaseHeld = granted !== undefined;
            execution.startedAt = granted?.acquiredAt ?? Date.now();
            execution.deadline = execution.startedAt + execution.timeoutSecs * 1000;
            deadline = setTimeout(
              () => execution.abort.abort(new CallTimeoutError(execution.timeoutSecs)),
              execution.deadline - execution.startedAt,
            );
            work = concat(
              of<ExecutionEvent>({ kind: 'admitted', timeoutSecs: execution.timeoutSecs }),
              this.tool(next),
            ).subscribe({
              next: (ev) => {
                if (ev.kind === 'result') outcome = 'success';
                subscriber.next(ev);
              },
              error: (err: unknown) => {
                outcome = outcomeOf(err);
                subscriber.error(err);
              },
              complete: () => subscriber.complete(),
            });
          },
          (err: unknown) => {
            outcome = outcomeOf(err);
            subscriber.error(err);
          },
        );

      return () => {
        torn = true;
        signal.removeEventListener('abort', onAbort);
        clearTimeout(deadline);
        work?.unsubscribe();
        this.calls.unregister(execution);
        if (!execution.settled && !signal.aborted) execution.abort.abort(new CallCancelledError('All callers left'));
        if (outcome === 'abandoned' && signal.aborted) outcome = outcomeOf(signal.reason);
        this.record(execution, outcome, started);
        if (lease) this.releaseLease(lease, execution);
      };
    });
  }

  /**
   * Releases the lease once the tool has settled after an abort, so a provider
   * request is not still open when its permit is reused — but never later than
   * ABORT_SETTLE_MAX_MS, so a tool that ignores its signal cannot keep it.
   */
  protected releaseLease(lease: Lease, execution: ToolExecution): void {
    const work = {
      started: execution.toolStarted,
      settled: execution.settled,
      whenSettled: execution.whenSettled,
    };
    releaseAfterSettle(lease, work, this.config.leaseGraceMs, () => (execution.leaseHeld = false));
  }

  private tool(next: CallHandler): Observable<ExecutionEvent> {
    return defer(() => next.handle() as Observable<ExecutionEvent>);
  }

  private holderFor(execution: ToolExecution): LeaseHolder {
    return {
      requestId: execution.origin.requestId,
      sessionId: execution.origin.sessionId,
      connectionId: execution.origin.conn.id,
      provider: execution.provider,
      timeoutMs: execution.timeoutSecs * 1000,
      isLive: () => execution.leaseHeld && execution.hasLiveCaller(),
      abort: (reason) => execution.abort.abort(reason),
    };
  }

  private record(execution: ToolExecution, outcome: string, admitted: boolean): void {
    const tool = execution.tool.name;
    this.metrics.calls.inc({ tool, outcome });
    this.activity.record({
      session_id: execution.origin.sessionId,
      request_id: execution.origin.requestId,
      tool,
      provider: execution.provider,
      model: typeof execution.args.model === 'string' ? execution.args.model : undefined,
      outcome,
      admitted,
      duration_ms: admitted ? Date.now() - execution.startedAt : 0,
    });
    if (admitted) this.metrics.callDuration.observe({ tool }, (Date.now() - execution.startedAt) / 1000);
    this.logger.log({
      msg: 'Call ended',
      request_id: execution.origin.requestId,
      session_id: execution.origin.sessionId,
      tool,
      provider: execution.provider,
      outcome,
      admitted,
      duration_ms: admitted ? Date.now() - execution.startedAt : 0,
      participants: execution.participants.size,
    });
  }
}
