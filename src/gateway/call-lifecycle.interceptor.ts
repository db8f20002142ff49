import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, Subscription } from 'rxjs';
import type { OutFrame } from './call-frames';
import { CallLifecycle } from './call-lifecycle';
import type { CallPlan } from './call-planner';

/**
 * Wraps every gateway message in the semaphore guard: the `call_tool`
 * handler answers with the call's plan, and the plan runs through the call
 * lifecycle (admission, deadline, signal, release) before any frame goes out.
 * Control messages pass without a permit.
 */
@Injectable()
export class CallLifecycleInterceptor implements NestInterceptor {
  constructor(private readonly lifecycle: CallLifecycle) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'ws' || context.switchToWs().getPattern() !== 'call_tool') return next.handle();
    return this.framesOf(next.handle() as Observable<CallPlan>);
  }

  /**
   * The frames of the call the handler planned: what `switchMap` to
   * `call$` would give for the handler's one plan, by hand, since every
   * call builds it (its operator subscribers were part of the rxjs share of
   * a no-op call's profile). The reply ends with the call's frames; an error
   * from the handler or the call reaches the exception filter as before.
   */
  private framesOf(plans: Observable<CallPlan>): Observable<OutFrame> {
    return new Observable<OutFrame>((subscriber) => {
      let frames: Subscription | undefined;
      const planned = plans.subscribe({
        next: (plan) => {
          frames?.unsubscribe();
          frames = this.lifecycle.call$(plan).subscribe({
            next: (frame) => subscriber.next(frame),
            error: (err: unknown) => subscriber.error(err),
            complete: () => subscriber.complete(),
          });
        },
        error: (err: unknown) => subscriber.error(err),
        // A handler always answers with a plan; without one there is nothing to wait for.
        complete: () => {
          if (!frames) subscriber.complete();
        },
      });
      return () => {
        planned.unsubscribe();
        frames?.unsubscribe();
      };
    });
  }
}
