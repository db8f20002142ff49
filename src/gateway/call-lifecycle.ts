import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Observable, of, throwError } from 'rxjs';
import { ActivityService } from '../activity/activity.service';
import { abortError, CallCancelledError, CallTimeoutError, outcomeOf } from '../common/call.errors';
import { AdmissionService } from '../concurrency/admission.service';
import { concurrencyConfig } from '../concurrency/concurrency.config';
import type { Lease, LeaseHolder } from '../concurrency/lease';
import { releaseAfterSettle } from '../concurrency/lease-release';
import { CallEndLogger, CallLogService } from '../logging/call-log.service';
import { MetricsService } from '../metrics/metrics.service';
import { CallFrames, EncodedFrame, OutFrame } from './call-frames';
import type { CallPlan } from './call-planner';
import { CallRegistry } from './call-registry';
import { ConnectionsService } from './connections.service';
import { gatewayConfig } from './gateway.config';
import { ResultCacheService } from './result-cache.service';
import { RunSink, SharedRun } from './shared-run';
import type { CallParticipant, ExecutionEvent, ToolExecution } from './tool-execution';

/**
 * The life of a `call_tool`, in order:
 *
 * 1. **plan** (`CallPlanner.plan`, called by the `call_tool` handler): tool,
 *    arguments, replay by request id, the tool's prepare, result cache and
 *    coalescing decide whether the call is answered at once, joins a running
 *    execution, or starts one (`call$`);
 * 2. **admission** (`run$`): the execution's lease (global + provider +
 *    session, all or nothing), with `queued` notes while it waits;
 * 3. **run** (`run$`, `runTool`): the tool under the deadline and the
 *    execution's signal (the run fails at the abort even if the tool ignores it);
 * 4. **terminal frame** (`attend`): each caller's frames, ending in its one
 *    `call_tool_res` (an error becomes that frame in GatewayExceptionFilter);
 * 5. **release** (`run$`'s teardown, `end`): the lease goes back once the
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
    private readonly connections: ConnectionsService,
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

  /**
   * Admission, the tool under its deadline and signal, release: cold until
   * the first caller attends, shared by every caller attached to it
   * (SharedRun: a late joiner still hears the result; the run stops when the
   * last caller leaves). Hand-written rather than an operator chain and a
   * subject: every call builds it, and their subscribers were a tenth of a
   * no-op call's cost (bench profile). In order: the run fails at
   * once when its signal fires (even if the tool ignores it); queued notes
   * while it waits for its lease; the deadline starts at admission; and on
   * the way out, whatever the reason, the deadline is cleared, the lease goes
   * back once the tool has settled, and the run ends (`end`).
   */
  private run$(execution: ToolExecution): SharedRun<ExecutionEvent> {
    return new SharedRun<ExecutionEvent>((subscriber) => {
      const { signal } = execution;
      let outcome = 'abandoned';
      let lease: Lease | undefined;
      let deadline: NodeJS.Timeout | undefined;
      const fail = (err: unknown) => {
        if (subscriber.closed) return;
        outcome = outcomeOf(err);
        subscriber.error(err);
      };
      const onAbort = () => fail(abortError(signal.reason));
      const teardown = () => {
        signal.removeEventListener('abort', onAbort);
        clearTimeout(deadline);
        if (lease) this.release(lease, execution);
        this.end(execution, outcome);
      };
      if (signal.aborted) {
        onAbort();
        return teardown;
      }
      signal.addEventListener('abort', onAbort);
      const admitted = (granted: Lease | undefined) => {
        // Everyone left while it waited: the permit goes straight back.
        if (subscriber.closed) return granted && this.release(granted, execution);
        lease = granted;
        const { timeoutSecs } = execution.plan;
        execution.start(granted?.acquiredAt ?? Date.now());
        // Armed once the turn's frames are written, for what is left of it:
        // a run that ends in the turn it was admitted in makes no timer.
        this.connections.afterWrites(() => {
          if (subscriber.closed) return;
          const left = Math.max(0, execution.deadline - Date.now());
          deadline = setTimeout(() => execution.abort(new CallTimeoutError(timeoutSecs)), left);
        });
        subscriber.next({ kind: 'admitted', timeoutSecs });
        if (!subscriber.closed) this.runTool(execution, subscriber, fail, () => (outcome = 'success'));
      };
      // A local call (no model work) takes no permit: it must not queue
      // behind, or hold a slot from, the calls that do talk to a provider.
      if (execution.local) admitted(undefined);
      else {
        this.admission
          .acquire(this.holderFor(execution), {
            signal,
            onQueued: (position, waitingFor) => subscriber.next({ kind: 'queued', position, waitingFor }),
          })
          .then(admitted, fail);
      }
      return teardown;
    });
  }

  /** The tool's progress, then its result, which ends the run. */
  private runTool(
    execution: ToolExecution,
    subscriber: RunSink<ExecutionEvent>,
    fail: (err: unknown) => void,
    succeeded: () => void,
  ): void {
    execution
      .run((message, level = 'info') => subscriber.next({ kind: 'progress', message, level }))
      .then((result) => {
        if (subscriber.closed) return;
        succeeded();
        // Out of the registry before anyone sees the result, so no caller
        // can join a run that has nothing more to send.
        this.registry.remove(execution);
        const outputs = [this.frames.output(execution, result)];
        if (execution.plan.callKey) void this.results.storeOutputs(execution.plan.callKey, outputs);
        subscriber.next({ kind: 'result', outputs });
        subscriber.complete();
      }, fail);
  }

  /**
   * The frames one caller receives: its opening frame, the run's events (a
   * joiner only its result), heartbeats until the end, and an early end on
   * its own `cancel`. The result goes out once its replay is stored, so a
   * client that has it can replay it on any daemon; other frames pass at once.
   */
  private attend(execution: ToolExecution, participant: CallParticipant, joined: boolean): Observable<OutFrame> {
    return new Observable<OutFrame>((subscriber) => {
      this.registry.attach(participant, execution, joined);
      const { ended } = participant;
      const onEnded = () => subscriber.error(abortError(ended.reason));
      if (ended.aborted) {
        onEnded();
        return () => this.registry.leave(participant);
      }
      ended.addEventListener('abort', onEnded);
      let beat: NodeJS.Timeout | undefined;
      // Armed once the turn's frames are written: a call answered in the
      // turn that read it (a no-op, a replay) makes no timer.
      this.connections.afterWrites(() => {
        if (subscriber.closed) return;
        beat = setInterval(() => subscriber.next(this.frames.heartbeat(participant)), this.gateway.progressIntervalMs);
      });
      const stop = () => {
        ended.removeEventListener('abort', onEnded);
        clearInterval(beat);
        this.registry.leave(participant);
      };
      subscriber.next(this.frames.opening(participant, execution));
      if (subscriber.closed) return stop;
      /** The result, while its replay is being stored; the run's end waits for it. */
      let storing: Promise<void> | undefined;
      let runEnded = false;
      const detach = execution.events.attach({
        next: (ev) => {
          if (joined && ev.kind !== 'result') return;
          const frame = this.frames.frameFor(ev, participant);
          if (ev.kind !== 'result' || !participant.replayable) return subscriber.next(frame);
          const encoded = new EncodedFrame(frame);
          const { sessionId, fingerprint, requestId } = participant;
          storing = this.results.storeReplay(sessionId, fingerprint, requestId, encoded);
          void storing.then(() => {
            storing = undefined;
            subscriber.next(encoded);
            if (runEnded) subscriber.complete();
          });
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          runEnded = true;
          if (!storing) subscriber.complete();
        },
      });
      return () => {
        detach();
        stop();
      };
    });
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

  /**
   * The run is over for everyone: it leaves the registry, is aborted if the
   * tool still runs, and is counted once the turn's frames have been written
   * (its result is not held back by its metrics, activity and log line).
   */
  private end(execution: ToolExecution, outcome: string): void {
    this.registry.remove(execution);
    const { signal } = execution;
    if (!execution.settled && !signal.aborted) execution.abort(new CallCancelledError('All callers left'));
    const ended = outcome === 'abandoned' && signal.aborted ? outcomeOf(signal.reason) : outcome;
    const endedAt = Date.now();
    const participants = execution.participants.size;
    this.connections.afterWrites(() => this.record(execution, ended, endedAt, participants));
  }

  private record(execution: ToolExecution, outcome: string, endedAt: number, participants: number): void {
    const tool = execution.tool.name;
    const { origin, provider } = execution.plan;
    const admitted = execution.startedAt > 0;
    const durationMs = admitted ? endedAt - execution.startedAt : 0;
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
      participants,
    });
  }
}
