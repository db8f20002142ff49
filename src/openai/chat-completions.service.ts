import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { AdmissionService } from '../concurrency/admission.service';
import { concurrencyConfig } from '../concurrency/concurrency.config';
import type { Lease, LeaseHolder } from '../concurrency/lease';
import { releaseAfterSettle } from '../concurrency/lease-release';
import { abortError, CallCancelledError, CallTimeoutError, outcomeOf, ShuttingDownError } from '../common/call.errors';
import { CallEndLogger, CallLogService } from '../logging/call-log.service';
import { MetricsService } from '../metrics/metrics.service';
import type { LlmDelta, LlmRequest, LlmResult } from '../providers/llm-provider';
import { LlmCallService, ModelRoute } from '../tools/llm-call.service';
import { ChatCompletionRequest, promptChars } from './chat-request.parser';
import { OPENAI_CALL_TOOL, OPENAI_ROUTING_TOOL } from './openai.constants';
import { OpenAiApiError } from './openai.errors';

/** Who is asking: the session whose limit the call takes. */
export interface ChatCaller {
  sessionId: string;
}

/** A request checked and routed, before it takes any permit. */
export interface ChatPlan {
  id: string;
  request: ChatCompletionRequest;
  route: ModelRoute;
  caller: ChatCaller;
}

/**
 * The OpenAI-compatible API's call path. It reuses the WebSocket path's
 * parts rather than its frames: LlmCallService's model resolution (explicit,
 * alias or `auto` through the routing rules) and deadline budget, the same
 * AdmissionService lease (global + provider + session, all or nothing, fair
 * queue), the provider's retries and circuit breaker, and the
 * release-after-settle rule for the lease.
 */
@Injectable()
export class ChatCompletionsService implements BeforeApplicationShutdown {
  private readonly callEnded: CallEndLogger;
  /** Each running call's abort, by plan id: for cancel() and shutdown. */
  private readonly running = new Map<string, AbortController>();

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly llm: LlmCallService,
    private readonly admission: AdmissionService,
    private readonly metrics: MetricsService,
    callLog: CallLogService,
  ) {
    this.callEnded = callLog.for(ChatCompletionsService.name);
  }

  /**
   * Resolves the model and checks the fields the serving provider takes.
   * @throws UnknownModelError (404) or OpenAiApiError (400) before any permit is taken.
   */
  plan(request: ChatCompletionRequest, caller: ChatCaller): ChatPlan {
    const route = this.llm.route(OPENAI_ROUTING_TOOL, request.model, {
      deep: false,
      web: false,
      promptChars: promptChars(request.messages),
    });
    const accepted = route.provider.passthroughFields();
    for (const field of Object.keys(request.extra)) {
      if (!accepted.includes(field)) {
        throw new OpenAiApiError(
          400,
          `Unsupported parameter: '${field}' is not accepted by ${route.provider.id} (${route.model}).` +
            (accepted.length > 0 ? ` It accepts: ${accepted.join(', ')}.` : ''),
          'invalid_request_error',
          'unsupported_parameter',
          field,
        );
      }
    }
    return { id: `chatcmpl-${randomUUID().replace(/-/g, '')}`, request, route, caller };
  }

  /**
   * Ends the running call `plan` with `reason` (the client went away, or
   * stopped reading): its upstream request is aborted, its lease released.
   * Nothing happens once the call has ended.
   */
  cancel(plan: ChatPlan, reason: CallCancelledError): void {
    this.running.get(plan.id)?.abort(reason);
  }

  /**
   * Admits the call, runs it within its deadline and releases its lease on
   * every ending; cancel() ends it early. One AbortController per call: the
   * caller's going away reaches it through cancel() rather than through a
   * second controller, as each costs microseconds to make and to abort.
   * @throws CallError: OVER_CAPACITY, TIMEOUT, CANCELLED, SHUTTING_DOWN, PROVIDER_*.
   */
  async run(plan: ChatPlan, onDelta?: (delta: LlmDelta) => void): Promise<LlmResult> {
    const abort = new AbortController();
    this.running.set(plan.id, abort);

    const work = { started: false, settled: false, whenSettled: Promise.resolve() as Promise<unknown> };
    let leaseHeld = false;
    let lease: Lease | undefined;
    let deadlineTimer: NodeJS.Timeout | undefined;
    let outcome = 'abandoned';
    const { route } = plan;
    const timeoutSecs = route.timeoutSecs;
    const holder: LeaseHolder = {
      requestId: plan.id,
      sessionId: plan.caller.sessionId,
      connectionId: `http:${plan.id}`,
      provider: route.provider.id,
      timeoutMs: timeoutSecs * 1000,
      isLive: () => leaseHeld && (!abort.signal.aborted || (work.started && !work.settled)),
      abort: (reason) => abort.abort(reason),
    };
    try {
      lease = await this.admission.acquire(holder, { signal: abort.signal });
      leaseHeld = true;
      const deadline = lease.acquiredAt + timeoutSecs * 1000;
      deadlineTimer = setTimeout(
        () => abort.abort(new CallTimeoutError(timeoutSecs)),
        Math.max(0, deadline - Date.now()),
      );
      const running = route.provider.complete(this.llmRequest(plan), {
        signal: abort.signal,
        deadline,
        onDelta,
        // A caller that does not stream is served from a non-streamed upstream answer.
        stream: plan.request.stream,
      });
      work.started = true;
      work.whenSettled = running.then(
        () => (work.settled = true),
        () => (work.settled = true),
      );
      // The abort wins over a provider that is slow to notice it: the caller
      // gets its answer at the deadline, and the lease waits for the settle.
      const result = await Promise.race([running, rejectOnAbort(abort.signal)]);
      outcome = 'success';
      return result;
    } catch (err) {
      outcome = outcomeOf(err);
      throw err;
    } finally {
      clearTimeout(deadlineTimer);
      if (!work.settled && !abort.signal.aborted) abort.abort(new CallCancelledError('Request ended'));
      this.running.delete(plan.id);
      // Counted and logged once the caller's continuation (the microtasks
      // after this) has written the answer: the line and the metrics are
      // not on the answer's path.
      const ended = Date.now();
      process.nextTick(() => this.record(plan, outcome, lease, ended));
      if (lease) releaseAfterSettle(lease, work, this.config.leaseGraceMs, () => (leaseHeld = false));
    }
  }

  /** In-flight API calls end with SHUTTING_DOWN (503) before the HTTP server closes. */
  beforeApplicationShutdown(): void {
    for (const abort of this.running.values()) abort.abort(new ShuttingDownError());
  }

  private llmRequest(plan: ChatPlan): LlmRequest {
    const { request, route } = plan;
    return {
      model: route.model,
      messages: request.messages,
      temperature: request.temperature,
      maxTokens: request.maxTokens,
      thinking: route.thinking,
      tools: request.tools,
      toolChoice: request.toolChoice,
      stop: request.stop,
      topP: request.topP,
      extra: request.extra,
    };
  }

  private record(plan: ChatPlan, outcome: string, lease: Lease | undefined, endedAt: number): void {
    this.metrics.calls.inc({ tool: OPENAI_CALL_TOOL, outcome });
    const durationMs = lease ? endedAt - lease.acquiredAt : 0;
    if (lease) this.metrics.callDuration.observe({ tool: OPENAI_CALL_TOOL }, durationMs / 1000);
    this.callEnded({
      request_id: plan.id,
      session_id: plan.caller.sessionId,
      tool: OPENAI_CALL_TOOL,
      provider: plan.route.provider.id,
      model: plan.route.model,
      outcome,
      admitted: lease !== undefined,
      duration_ms: durationMs,
    });
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(abortError(signal.reason));
    signal.addEventListener('abort', () => reject(abortError(signal.reason)), { once: true });
  });
}
