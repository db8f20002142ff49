import { MonoTypeOperatorFunction, Observable } from 'rxjs';
import { abortError } from '../common/call.errors';

/** What failOnAbort listens to: an AbortSignal, or a CallEnd. */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A call's own early end (its `cancel`), shaped like an AbortSignal for
 * failOnAbort, without being one: every call carries one and almost none
 * fires, while a Node AbortSignal (an EventTarget) is among the costliest
 * things a no-op call creates and listens to (bench profile).
 */
export class CallEnd implements AbortSource {
  private ended = false;
  private why: unknown;
  private listeners: Array<() => void> = [];

  get aborted(): boolean {
    return this.ended;
  }

  get reason(): unknown {
    return this.why;
  }

  /** Ends it once with `reason`; each listener runs once. */
  abort(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.why = reason;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.ended) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }
}

/**
 * Fails the stream with the abort reason the moment `signal` fires, even if
 * the source would go on (a tool that ignores its signal): callers get their
 * terminal frame at the deadline or cancel, not whenever the work gives up.
 * Unsubscribing from the source on the way out runs its teardown (release).
 */
export function failOnAbort<T>(signal: AbortSource): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      if (signal.aborted) return subscriber.error(abortError(signal.reason));
      const onAbort = () => subscriber.error(abortError(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      const inner = source.subscribe(subscriber);
      return () => {
        signal.removeEventListener('abort', onAbort);
        inner.unsubscribe();
      };
    });
}

/** Emits `beat()` every `ms` for as long as the source is subscribed. */
export function withHeartbeat<T>(ms: number, beat: () => T): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      const timer = setInterval(() => subscriber.next(beat()), ms);
      const inner = source.subscribe(subscriber);
      return () => {
        clearInterval(timer);
        inner.unsubscribe();
      };
    });
}
