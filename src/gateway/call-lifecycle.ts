import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  concat,
  concatMap,
  defer,
  filter,
  finalize,
  Observable,
  of,
  ReplaySubject,
  share,
  switchMap,
  tap,
  throwError,
} from 'rxjs';
import { ActivityService } from '../activity/activity.service';
import { abortError, CallCancelledError, CallTimeoutError, outcomeOf } from '../common/call.errors';
import { AdmissionService } from '../concurrency/admission.service';
import { concurrencyConfig } from '../concurrency/concurrency.config';
import type { Lease, LeaseHolder } from '../concurrency/lease';
import { releaseAfterSettle } from '../concurrency/lease-release';
import { CallEndLogger, CallLogService } from '../logging/call-log.service';
import { MetricsService } from '../metrics/metrics.service';
import { CallFrames, EncodedFrame, OutFrame } from './call-frames';
import { failOnAbort, withHeartbeat } from './call-operators';
import type { CallPlan } from './call-planner';
import { CallRegistry } from './call-registry';
import { gatewayConfig } from './gateway.config';
import { ResultCacheService } from './result-cache.service';
import type { CallParticipant, ExecutionEvent, ToolExecution } from './tool-execution';

/** While waiting for a permit: queued notes, then the grant (no lease for a local call). */
type Admission = Extract<ExecutionEvent, { kind: 'queued' }> | { kind: 'granted'; lease: Lease | undefined };

/**
 * One run, shared by every caller attached to it. ReplaySubject(1): a caller
 * that attaches between the result and the completion still receives the
 * result. Reset on ref-count zero: when the last caller leaves, the run is
 * unsubscribed and so aborted and released.
 */
const SHARED_RUN = {
  connector: () => new ReplaySubject<ExecutionEvent>(1),
  resetOnError: false,
  resetOnComplete: false,
  resetOnRefCountZero: true,
} as const;

/** A joiner hears only the result: the progress belongs to the caller that started the run. */
const RESULTS_ONLY = filter((ev: ExecutionEvent) => ev.kind === 'result');

/**
 * The life of a `call_tool`, in order:
 *
 * 1. **plan** (`CallPlanner.plan`, called by the `call_tool` handler): tool,
 *    arguments, replay by request id, the tool's prepare, result cache and
 *    coalescing decide whether the call is answered at once, joins a running
 *    execution, or starts one (`call$`);
 * 2. **admission** (`admission$`): the execution's lease (global + provider +
 *    session, all or nothing), with `queued` notes while it waits;
 * 3. **run** (`holding$`, `tool$`): the tool under the deadline and the
 *    execution's AbortSignal (`failOnAbort` ends the run at the abort even if
 *    the tool ignores it);
 * 4. **terminal frame** (`attend`): each caller's frames, ending in its one
 *    `call_tool_res` (an error becomes that frame in GatewayExceptionFilter);
 * 5. **release** (`holding$`'s finalize, `end`): the lease goes back once the
 *    tool has settled (at most ABORT_SETTLE_MAX_MS after an abort), the run
 *    leaves the registry and is counted.
 */
@Injectable()
export class CallLifecycle {
  private readonly callEnded: CallEndLogger;

  constructor(
    @Inject(gatewayConfig.KEY) private readonly gateway: ConfigType<typeof gatewayConfig>,
    @Inject(concurrencyConfig.KEY) private readonly concurrency: ConfigType<typeof concurrencyConfig>,
    private readonly registry: CallRegistry,
    private readonly frames: CallFrames,
    private readonly results: ResultCacheService,
    private readonly admission: AdmissionService,
    private readonly metrics: MetricsService,
    private readonly activity: ActivityService,
    callLog: CallLogService,
  ) {
    this.callEnded = callLog.for(CallLifecycle.name);
  }

  /** The frames of a planned call, for its caller. */
  call$(plan: CallPlan): Observable<OutFrame> {
    if (plan.kind === 'answered') return of(plan.frame);
    const { participant } = plan;
    // Cancelled while it was planned: it ends here, before it runs or joins.
    if (participant.ended.aborted) {
      this.registry.leave(participant);
      return throwError(() => abortError(participant.ended.reason));
    }
    if (plan.kind === 'join') return this.attend(plan.execution, participant, true);
    // An identical call may have started the same run while this one was planned.
    const running = this.registry.running(plan.execution.plan.callKey);
    if (running) return this.attend(running, participant, true);
    plan.execution.share(this.run$(plan.execution));
    this.registry.add(plan.execution);
    return this.attend(plan.execution, participant, false);
  }

  /** Admission, the tool under its deadline and signal, release: cold until the first caller attends. */
  private run$(execution: ToolExecution): Observable<ExecutionEvent> {
    let outcome = 'abandoned';
    return this.admission$(execution).pipe(
      switchMap((step) => (step.kind === 'queued' ? of(step) : this.holding$(execution, step.lease))),
      failOnAbort(execution.signal),
      tap({
        next: (ev) => {
          if (ev.kind !== 'result') return;
          outcome = 'success';
          // Out of the registry before anyone sees the result, so no caller
          // can join a run that has nothing more to send.
          this.registry.remove(execution);
          if (execution.plan.callKey) void this.results.storeOutputs(execution.plan.callKey, ev.outputs);
        },
        error: (err: unknown) => (outcome = outcomeOf(err)),
      }),
      finalize(() => this.end(execution, outcome)),
      share(SHARED_RUN),
    );
  }

  /** Queued notes while waiting, then the grant. A grant that arrives after everyone left goes back at once. */
  private admission$(execution: ToolExecution): Observable<Admission> {
    return new Observable<Admission>((subscriber) => {
      // A local call (no model work) takes no permit: it must not queue
      // behind, or hold a slot from, the calls that do talk to a provider.
      const granted = execution.local
        ? Promise.resolve(undefined)
        : this.admission.acquire(this.holderFor(execution), {
            signal: execution.signal,
            onQueued: (position, waitingFor) => subscriber.next({ kind: 'queued', position, waitingFor }),
          });
      granted.then(
        (lease) => {
          if (subscriber.closed) return lease && this.release(lease, execution);
          subscriber.next({ kind: 'granted', lease });
          subscriber.complete();
        },
        (err: unknown) => subscriber.error(err),
      );
    });
  }

  /** Admitted: the deadline starts, the tool runs, and the lease goes back when the run ends. */
  private holding$(execution: ToolExecution, lease: Lease | undefined): Observable<ExecutionEvent> {
    return defer(() => {
      const { timeoutSecs } = execution.plan;
      execution.start(lease?.acquiredAt ?? Date.now());
      const deadline = setTimeout(() => execution.abort(new CallTimeoutError(timeoutSecs)), timeoutSecs * 1000);
      return concat(of<ExecutionEvent>({ kind: 'admitted', timeoutSecs }), this.tool$(execution)).pipe(
        finalize(() => {
          clearTimeout(deadline);
          if (lease) this.release(lease, execution);
        }),
      );
    });
  }

  /** The tool's progress, then its result. */
  private tool$(execution: ToolExecution): Observable<ExecutionEvent> {
    return new Observable<ExecutionEvent>((subscriber) => {
      execution
        .run((message, level = 'info') => subscriber.next({ kind: 'progress', message, level }))
        .then(
          (result) => {
            subscriber.next({ kind: 'result', outputs: [this.frames.output(execution, result)] });
            subscriber.complete();
          },
          (err: unknown) => subscriber.error(err),
        );
    });
  }

  /**
   * The frames one caller receives: its opening frame, the run's events,
   * heartbeats until the end, and an early end on its own `cancel`.
   */
  private attend(execution: ToolExecution, participant: CallParticipant, joined: boolean): Observable<OutFrame> {
    return defer(() => {
      this.registry.attach(participant, execution, joined);
      const events$ = joined ? execution.events$.pipe(RESULTS_ONLY) : execution.events$;
      return concat(
        of(this.frames.opening(participant, execution)),
        events$.pipe(concatMap((ev) => this.frameFor(ev, participant))),
      ).pipe(
        withHeartbeat<OutFrame>(this.gateway.progressIntervalMs, () => this.frames.heartbeat(participant)),
        failOnAbort(participant.ended),
        finalize(() => this.registry.leave(participant)),
      );
    });
  }

  /**
   * The result goes out once its replay is stored, so a client that has it
   * can replay it on any daemon; other frames pass at once.
   */
  private frameFor(ev: ExecutionEvent, p: CallParticipant): Observable<OutFrame> | Promise<OutFrame> {
    const frame = this.frames.frameFor(ev, p);
    if (ev.kind !== 'result' || !p.replayable) return of(frame);
    const encoded = new EncodedFrame(frame);
    return this.results.storeReplay(p.sessionId, p.fingerprint, p.requestId, encoded).then(() => encoded);
  }

  /**
   * Gives the lease back once the tool has settled after an abort, so a
   * provider request is not still open when its permit is reused, but never
   * later than ABORT_SETTLE_MAX_MS: a tool that ignores its signal cannot keep it.
   */
  private release(lease: Lease, execution: ToolExecution): void {
    releaseAfterSettle(lease, execution, this.concurrency.leaseGraceMs);
  }

  private holderFor(execution: ToolExecution): LeaseHolder {
    const { origin, provider, timeoutSecs } = execution.plan;
    return {
      requestId: origin.requestId,
      sessionId: origin.sessionId,
      connectionId: origin.conn.id,
      provider,
      timeoutMs: timeoutSecs * 1000,
      isLive: () => execution.hasLiveCaller(),
      abort: (reason) => execution.abort(reason),
    };
  }

  /** The run is over for everyone: it leaves the registry, is aborted if the tool still runs, and is counted. */
  private end(execution: ToolExecution, outcome: string): void {
    this.registry.remove(execution);
    const { signal } = execution;
    if (!execution.settled && !signal.aborted) execution.abort(new CallCancelledError('All callers left'));
    this.record(execution, outcome === 'abandoned' && signal.aborted ? outcomeOf(signal.reason) : outcome);
  }

  private record(execution: ToolExecution, outcome: string): void {
    const tool = execution.tool.name;
    const { origin, provider } = execution.plan;
    const admitted = execution.startedAt > 0;
    const durationMs = admitted ? Date.now() - execution.startedAt : 0;
    this.metrics.calls.inc({ tool, outcome });
    this.activity.record({
      session_id: origin.sessionId,
      request_id: origin.requestId,
      tool,
      provider,
      model: typeof execution.args.model === 'string' ? execution.args.model : undefined,
      outcome,
      admitted,
      duration_ms: durationMs,
    });
    if (admitted) this.metrics.callDuration.observe({ tool }, durationMs / 1000);
    this.callEnded({
      request_id: origin.requestId,
      session_id: origin.sessionId,
      tool,
      provider,
      outcome,
      admitted,
      duration_ms: durationMs,
      participants: execution.participants.size,
    });
  }
}
