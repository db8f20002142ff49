/** What a caller attached to a run hears: its events, then its end. */
export interface RunObserver<T> {
  next(value: T): void;
  error(err: unknown): void;
  complete(): void;
}

/** What the run's producer writes to; `closed` once the run ended or every caller left. */
export interface RunSink<T> extends RunObserver<T> {
  readonly closed: boolean;
}

/** Starts the run and returns its teardown, which runs once, however the run stops. */
export type RunProducer<T> = (sink: RunSink<T>) => () => void;

interface Attached<T> {
  readonly observer: RunObserver<T>;
  live: boolean;
}

/**
 * One start of the producer: closed at its end or when every caller has
 * left, and torn down once, as soon as both the producer has returned its
 * teardown and the run has stopped (the producer may end the run before it
 * returns).
 */
class Connection<T> implements RunSink<T> {
  closed = false;
  private teardown: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly run: SharedRun<T>) {}

  next(value: T): void {
    if (!this.closed) this.run.emit(value);
  }

  error(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.run.end(this, true, err);
    this.stop();
  }

  complete(): void {
    if (this.closed) return;
    this.closed = true;
    this.run.end(this, false, undefined);
    this.stop();
  }

  started(teardown: () => void): void {
    if (this.stopped) teardown();
    else this.teardown = teardown;
  }

  stop(): void {
    this.closed = true;
    this.stopped = true;
    const teardown = this.teardown;
    this.teardown = undefined;
    teardown?.();
  }
}

/**
 * One run of a producer, shared by every caller attached to it, as rxjs's
 * `share({ connector: () => new ReplaySubject(1), resetOnError: false,
 * resetOnComplete: false, resetOnRefCountZero: true })` would share an
 * Observable, without the subject, the operator subscribers and the
 * subscriptions that every call built for it:
 *
 * - the first caller starts the run; a caller that attaches later hears the
 *   last event first (a joiner that arrives between the result and the end
 *   still gets the result), and one that attaches after the end hears the
 *   last event and the end;
 * - when the last caller leaves before the end, the run is closed and torn
 *   down (and so aborted and released) and forgotten: a later caller would
 *   start it anew;
 * - callers hear each event and the end in the order they attached, and the
 *   run's teardown runs after they have all heard its end.
 */
export class SharedRun<T> {
  private attached: Array<Attached<T>> = [];
  private connection: Connection<T> | undefined;
  private hasLast = false;
  private last: T | undefined;
  private ending: { failed: boolean; reason: unknown } | undefined;

  constructor(private readonly producer: RunProducer<T>) {}

  /** Attaches `observer`; the returned function detaches it (once; later calls do nothing). */
  attach(observer: RunObserver<T>): () => void {
    if (this.ending) {
      this.replayTo(observer);
      return noop;
    }
    const entry: Attached<T> = { observer, live: true };
    this.attached.push(entry);
    if (this.hasLast) observer.next(this.last as T);
    if (!this.connection) this.connect();
    return () => this.detach(entry);
  }

  /** From the current connection only: a stopped one is closed and says nothing. */
  emit(value: T): void {
    this.hasLast = true;
    this.last = value;
    const attached = this.attached;
    if (attached.length === 1) return attached[0].observer.next(value);
    // A caller may leave (or join) while another hears this event.
    for (const entry of attached.slice()) if (entry.live) entry.observer.next(value);
  }

  end(from: Connection<T>, failed: boolean, reason: unknown): void {
    if (from !== this.connection || this.ending) return;
    this.ending = { failed, reason };
    const attached = this.attached;
    this.attached = [];
    for (const entry of attached) {
      if (!entry.live) continue;
      entry.live = false;
      if (failed) entry.observer.error(reason);
      else entry.observer.complete();
    }
  }

  private connect(): void {
    const connection = new Connection(this);
    this.connection = connection;
    let teardown: () => void;
    try {
      teardown = this.producer(connection);
    } catch (err) {
      connection.error(err);
      return;
    }
    connection.started(teardown);
  }

  private replayTo(observer: RunObserver<T>): void {
    if (this.hasLast) observer.next(this.last as T);
    if (this.ending?.failed) observer.error(this.ending.reason);
    else observer.complete();
  }

  private detach(entry: Attached<T>): void {
    if (!entry.live) return;
    entry.live = false;
    const at = this.attached.indexOf(entry);
    if (at >= 0) this.attached.splice(at, 1);
    if (this.attached.length > 0 || this.ending) return;
    // The last caller left before the end: the run stops and is forgotten.
    const connection = this.connection;
    this.connection = undefined;
    this.hasLast = false;
    this.last = undefined;
    connection?.stop();
  }
}

function noop(): void {}
