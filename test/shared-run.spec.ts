import { Observable, ReplaySubject, share } from 'rxjs';
import { RunProducer, RunSink, SharedRun } from '../src/gateway/shared-run';

/** What a call's lifecycle did before SharedRun: an Observable shared with a ReplaySubject(1), reset when nobody is left. */
const SHARED_RUN = {
  connector: () => new ReplaySubject<string>(1),
  resetOnError: false,
  resetOnComplete: false,
  resetOnRefCountZero: true,
} as const;

/** Attaches an observer that logs what it hears; returns its detach. */
type Attach = (name: string, log: string[], onNext?: (v: string) => void) => () => void;

function viaRxjs(producer: RunProducer<string>): Attach {
  const shared = new Observable<string>((s) => producer(s)).pipe(share(SHARED_RUN));
  return (name, log, onNext) => {
    const sub = shared.subscribe({
      next: (v) => {
        log.push(`${name} next ${v}`);
        onNext?.(v);
      },
      error: (e: unknown) => log.push(`${name} error ${String(e)}`),
      complete: () => log.push(`${name} complete`),
    });
    return () => sub.unsubscribe();
  };
}

function viaSharedRun(producer: RunProducer<string>): Attach {
  const run = new SharedRun(producer);
  return (name, log, onNext) =>
    run.attach({
      next: (v) => {
        log.push(`${name} next ${v}`);
        onNext?.(v);
      },
      error: (e: unknown) => log.push(`${name} error ${String(e)}`),
      complete: () => log.push(`${name} complete`),
    });
}

/** A producer whose sink the scenario drives, logging its starts, what it saw of `closed`, and its teardowns. */
function controlled(log: string[]): { producer: RunProducer<string>; sinks: Array<RunSink<string>> } {
  const sinks: Array<RunSink<string>> = [];
  const producer: RunProducer<string> = (sink) => {
    const n = sinks.push(sink);
    log.push(`start ${n}`);
    return () => log.push(`teardown ${n} (closed ${sink.closed})`);
  };
  return { producer, sinks };
}

type Scenario = (attach: Attach, sinks: Array<RunSink<string>>, log: string[]) => void;

/** Runs `scenario` against rxjs's share and against SharedRun; both must do and say the same, in the same order. */
function sameAsRxjs(scenario: Scenario, producerFor?: (log: string[]) => RunProducer<string>): string[] {
  const run = (make: (p: RunProducer<string>) => Attach) => {
    const log: string[] = [];
    const { producer, sinks } = controlled(log);
    scenario(make(producerFor ? producerFor(log) : producer), sinks, log);
    return log;
  };
  const expected = run(viaRxjs);
  expect(run(viaSharedRun)).toEqual(expected);
  return expected;
}

describe('SharedRun, as rxjs share(ReplaySubject(1)) with reset on ref count zero', () => {
  it('starts once for every caller, and tears down after all of them heard the end', () => {
    const log = sameAsRxjs((attach, sinks, log) => {
      attach('a', log);
      attach('b', log);
      sinks[0].next('queued');
      sinks[0].next('result');
      sinks[0].complete();
      sinks[0].next('late');
    });
    expect(log).toEqual([
      'start 1',
      'a next queued',
      'b next queued',
      'a next result',
      'b next result',
      'a complete',
      'b complete',
      'teardown 1 (closed true)',
    ]);
  });

  it('tells a late caller the last event first, and one that comes after the end the last event and the end', () => {
    const log = sameAsRxjs((attach, sinks, log) => {
      attach('a', log);
      sinks[0].next('admitted');
      sinks[0].next('result');
      attach('joiner', log);
      sinks[0].complete();
      attach('after', log);
    });
    expect(log).toContain('joiner next result');
    expect(log.slice(-2)).toEqual(['after next result', 'after complete']);
  });

  it('passes an error to every caller and to one that comes after it', () => {
    const log = sameAsRxjs((attach, sinks, log) => {
      attach('a', log);
      attach('b', log);
      sinks[0].error('boom');
      sinks[0].complete();
      attach('after', log);
    });
    expect(log).toEqual(['start 1', 'a error boom', 'b error boom', 'teardown 1 (closed true)', 'after error boom']);
  });

  it('stops the run when the last caller leaves before the end, and a later caller starts it anew', () => {
    const log = sameAsRxjs((attach, sinks, log) => {
      const a = attach('a', log);
      const b = attach('b', log);
      sinks[0].next('queued');
      a();
      a();
      b();
      sinks[0].next('ignored');
      sinks[0].complete();
      attach('c', log);
      sinks[1].next('fresh');
    });
    expect(log).toEqual([
      'start 1',
      'a next queued',
      'b next queued',
      'teardown 1 (closed true)',
      'start 2',
      'c next fresh',
    ]);
  });

  it('ends a run that fails while it starts, and tears it down once its teardown is returned', () => {
    sameAsRxjs(
      (attach, _sinks, log) => {
        attach('a', log);
        attach('b', log);
      },
      (log) => (sink) => {
        log.push('start');
        sink.next('admitted');
        sink.error('refused');
        log.push(`closed after error ${sink.closed}`);
        return () => log.push('teardown');
      },
    );
  });

  it('stops the run right after it started when its only caller leaves on an event sent while it starts', () => {
    const log = sameAsRxjs(
      (attach, _sinks, log) => {
        // Its handle comes back only once the run has started: it leaves then.
        let wantsOut = false;
        const leave = attach('a', log, () => (wantsOut = true));
        if (wantsOut) leave();
      },
      (log) => (sink) => {
        sink.next('admitted');
        log.push(`closed after the event ${sink.closed}`);
        return () => log.push('teardown');
      },
    );
    expect(log).toEqual(['a next admitted', 'closed after the event false', 'teardown']);
  });

  it('keeps telling the callers who stay when another leaves on an event', () => {
    sameAsRxjs((attach, sinks, log) => {
      let leaveB: () => void = () => undefined;
      attach('a', log, (v) => v === 'one' && leaveB());
      leaveB = attach('b', log);
      attach('c', log);
      sinks[0].next('one');
      sinks[0].next('two');
      sinks[0].complete();
    });
  });
});
