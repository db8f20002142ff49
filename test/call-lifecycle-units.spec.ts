import { Logger } from '@nestjs/common';
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { CallCancelledError, CallTimeoutError } from '../src/common/call.errors';
import { CallRegistry } from '../src/gateway/call-registry';
import { ClientConnection } from '../src/gateway/client-connection';
import { UnknownRequestError } from '../src/gateway/gateway.errors';
import { TokenBucket } from '../src/gateway/rate-limiter';
import { CallParticipant, ToolExecution } from '../src/gateway/tool-execution';
import { WriteCoalescer } from '../src/gateway/write-coalescer';
import type { RegisteredTool } from '../src/tools/tool-registry.service';
import type { ToolContext } from '../src/tools/tool.types';

function connection(id: string, sessionId: string): ClientConnection {
  const conn = new ClientConnection(id, {} as WebSocket, '127.0.0.1', new TokenBucket(10), {
    maxBufferedBytes: 1024,
    onDropped: () => undefined,
    onOverflow: () => undefined,
    coalescer: new WriteCoalescer(),
  });
  conn.sessionId = sessionId;
  return conn;
}

function call(conn: ClientConnection, requestId: string): CallParticipant {
  return new CallParticipant(requestId, true, conn, conn.sessionId!, 'test_echo', `fp-${requestId}`);
}

function execution(conn: ClientConnection, callKey?: string, handler: object = {}): ToolExecution {
  const tool = { name: 'test_echo', options: {}, handler } as unknown as RegisteredTool;
  return new ToolExecution({
    tool,
    prepared: { args: {} },
    callKey,
    timeoutSecs: 5,
    provider: undefined,
    origin: { requestId: 'origin', sessionId: conn.sessionId!, conn },
  });
}

describe('CallRegistry', () => {
  it('knows a call from planning on, so cancel reaches it before it runs', () => {
    const registry = new CallRegistry();
    const conn = connection('c1', 's1');
    const p = call(conn, 'r1');
    registry.enter(p);
    expect(registry.callerOf('s1', 'r1')).toBe(p);
    registry.cancel('s1', 'r1');
    expect(p.ended.aborted).toBe(true);
    expect(p.ended.reason).toBeInstanceOf(CallCancelledError);
    registry.leave(p);
    expect(() => registry.cancel('s1', 'r1')).toThrow(UnknownRequestError);
  });

  it('a closed connection forgets the calls it was still planning, not the ones attached to a run', () => {
    const registry = new CallRegistry();
    const conn = connection('c1', 's1');
    const other = connection('c2', 's1');
    const planning = call(conn, 'planning');
    const running = call(conn, 'running');
    const elsewhere = call(other, 'elsewhere');
    for (const p of [planning, running, elsewhere]) registry.enter(p);
    const run = execution(conn, 'key');
    registry.add(run);
    registry.attach(running, run, false);
    registry.forget(conn);
    expect(registry.callerOf('s1', 'planning')).toBeUndefined();
    expect(registry.callerOf('s1', 'running')).toBe(running);
    expect(registry.callerOf('s1', 'elsewhere')).toBe(elsewhere);
    expect(run.participants.has(running)).toBe(true);
  });

  it('coalesces by call key until the run is removed, and shutdown aborts every run', () => {
    const registry = new CallRegistry();
    const conn = connection('c1', 's1');
    const a = execution(conn, 'same');
    registry.add(a);
    expect(registry.running('same')).toBe(a);
    expect(registry.running(undefined)).toBeUndefined();
    expect(registry.abortAll(new CallTimeoutError(1))).toBe(1);
    expect(a.signal.reason).toBeInstanceOf(CallTimeoutError);
    registry.remove(a);
    registry.remove(a);
    expect(registry.running('same')).toBeUndefined();
    expect(registry.inFlight).toBe(0);
  });
});

describe('ToolExecution signal', () => {
  /** Runs the execution with a tool that hands its context out and waits for `release`. */
  function started(conn: ClientConnection) {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let ctx!: ToolContext;
    const run = execution(conn, undefined, {
      execute: async (_args: unknown, c: ToolContext) => {
        ctx = c;
        await held;
        return { content: 'done' };
      },
    });
    const result = run.run(() => undefined);
    return { run, result, release, context: async () => (await Promise.resolve(), ctx) };
  }

  it("aborts the AbortSignal a tool reads before the run ends, with the run's reason", async () => {
    const { run, context, release, result } = started(connection('c1', 's1'));
    const signal = (await context()).signal;
    expect(signal.aborted).toBe(false);
    let heard: unknown;
    signal.addEventListener('abort', () => (heard = signal.reason), { once: true });
    const reason = new CallTimeoutError(1);
    run.abort(reason);
    expect(heard).toBe(reason);
    release();
    await result;
  });

  it('hands a tool that reads its signal only after the end an already aborted one', async () => {
    const { run, context, release, result } = started(connection('c1', 's1'));
    const ctx = await context();
    const reason = new CallCancelledError('All callers left');
    run.abort(reason);
    expect(run.signal.aborted).toBe(true);
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBe(reason);
    expect(ctx.signal).toBe(ctx.signal);
    release();
    await result;
  });
});

describe('WriteCoalescer after-write work', () => {
  it('runs every task after the turn’s writes, and a task that throws neither stops the others nor escapes', async () => {
    const coalescer = new WriteCoalescer();
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const ran: string[] = [];
    coalescer.afterFlush(() => ran.push('first'));
    coalescer.afterFlush(() => {
      throw new Error('a broken metric');
    });
    coalescer.afterFlush(() => ran.push('third'));
    expect(ran).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual(['first', 'third']);
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
  });
});

/** A real Writable that records each write it makes: one entry per write or writev, with its chunks. */
function recordingSocket(): { socket: Writable; writes: string[][] } {
  const writes: string[][] = [];
  const socket = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      done();
    },
  });
  return { socket, writes };
}

/** The coalescer's flush is a nextTick then a setImmediate away. */
async function turnEnds(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

describe('WriteCoalescer early flush', () => {
  it('lets a lone exchange out in one write as soon as its last frame is queued, before the turn ends', () => {
    const coalescer = new WriteCoalescer();
    const { socket, writes } = recordingSocket();
    coalescer.hold(socket);
    socket.write('accepted');
    socket.write('ack');
    expect(writes).toEqual([]);
    socket.write('result');
    coalescer.answered(socket);
    expect(writes).toEqual([['accepted', 'ack', 'result']]);
  });

  it('while several sockets write in a turn (or did in the last), holds each to the end of the turn, in order', async () => {
    const coalescer = new WriteCoalescer();
    const a = recordingSocket();
    const b = recordingSocket();
    coalescer.hold(a.socket);
    a.socket.write('a1');
    coalescer.hold(b.socket);
    b.socket.write('b1');
    a.socket.write('a2');
    coalescer.answered(a.socket);
    expect(a.writes).toEqual([]);
    await turnEnds();
    expect(a.writes).toEqual([['a1', 'a2']]);
    expect(b.writes).toEqual([['b1']]);
    // The last turn was busy: a lone socket still waits for the end of this one.
    coalescer.hold(a.socket);
    a.socket.write('a3');
    coalescer.answered(a.socket);
    expect(a.writes).toHaveLength(1);
    await turnEnds();
    expect(a.writes).toEqual([['a1', 'a2'], ['a3']]);
    // After a quiet turn it leaves at once again.
    coalescer.hold(a.socket);
    a.socket.write('a4');
    coalescer.answered(a.socket);
    expect(a.writes.at(-1)).toEqual(['a4']);
  });
});
