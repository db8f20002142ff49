/** What listens for a call's end: an AbortSignal, or a CallEnd. */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A call's end (cancel, deadline, shutdown, every caller gone), shaped like
 * an AbortSignal without being one: every call carries one and almost none
 * fires, while a Node AbortController (an EventTarget) was among the
 * costliest things a no-op call created and listened to (bench profile).
 * Code that needs a real AbortSignal (fetch, a provider request) asks for
 * `signal`, and only then is one made, already aborted if the end came first.
 */
export class CallEnd implements AbortSource {
  private ended = false;
  private why: unknown;
  private listeners: Array<() => void> = [];
  private controller: AbortController | undefined;

  get aborted(): boolean {
    return this.ended;
  }

  get reason(): unknown {
    return this.why;
  }

  /** A real AbortSignal that aborts with this end, made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.ended) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  /** Ends it once with `reason`; each listener runs once, then the signal (if made) aborts. */
  abort(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.why = reason;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
    this.controller?.abort(reason);
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.ended) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }
}
