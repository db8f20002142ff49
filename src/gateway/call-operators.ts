import { MonoTypeOperatorFunction, Observable } from 'rxjs';
import { abortError } from '../common/call.errors';
import type { AbortSource } from '../common/call-end';

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
