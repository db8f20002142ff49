import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, switchMap } from 'rxjs';
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
  /** Built once: the same operator serves every call. */
  private readonly runPlan = switchMap((plan: CallPlan) => this.lifecycle.call$(plan));

  constructor(private readonly lifecycle: CallLifecycle) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'ws' || context.switchToWs().getPattern() !== 'call_tool') return next.handle();
    return (next.handle() as Observable<CallPlan>).pipe(this.runPlan);
  }
}
