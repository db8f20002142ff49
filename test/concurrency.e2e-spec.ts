import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import { LeakAuditTasks } from '../src/concurrency/leak-audit.tasks';
import { LeaseLedger } from '../src/concurrency/lease-ledger';
import { AdmissionService } from '../src/concurrency/admission.service';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { Frame, TestClient, toolOutput } from './support/ws-client';
import { waitFor } from './support/wait';

describe('concurrency against a real daemon', () => {
  let daemon: TestDaemon;
  let snap: ConcurrencySnapshotService;
  const clients: TestClient[] = [];
  const connect = async (session: string) => {
    const c = await TestClient.ready(daemon.url, { session_id: session });
    clients.push(c);
    return c;
  };
  const idle = async () => {
    const s = await snap.snapshot();
    return s.inFlight.global === 0 && s.leases === 0 && s.queued === 0;
  };

  beforeAll(async () => {
    // dev profile: global 5, session 2, GLM 2, KIMI 3.
    daemon = await startTestDaemon({ EXAI_CONCURRENCY_PROFILE: 'dev', EXAI_WS_QUEUE_TIMEOUT_SECS: '2' });
    snap = daemon.app.get(ConcurrencySnapshotService);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await waitFor(idle);
  });
  afterAll(() => daemon.close());

  it('(a) a hung call in session A does not stop sessions B and C', async () => {
    const a = await connect('A');
    a.send({ op: 'call_tool', request_id: 'hang', name: 'test_gate', arguments: { gate: 'never-a' } });
    await a.next((f) => f.op === 'call_tool_ack');
    const [b, c] = await Promise.all([connect('B'), connect('C')]);
    b.send({ op: 'call_tool', request_id: 'b1', name: 'test_echo', arguments: { text: 'b', delay_ms: 20 } });
    c.send({ op: 'call_tool', request_id: 'c1', name: 'test_echo', arguments: { text: 'c', delay_ms: 20 } });
    expect(toolOutput(await b.result('b1')).content).toBe('b');
    expect(toolOutput(await c.result('c1')).content).toBe('c');
    expect((await snap.snapshot()).inFlight.global).toBe(1);
  });

  it('(b) with session limit 2, a third call is queued and runs when one of the first two ends', async () => {
    const s = await connect('queue-session');
    s.send({ op: 'call_tool', request_id: 'q1', name: 'test_gate', arguments: { gate: 'g-q1' } });
    s.send({ op: 'call_tool', request_id: 'q2', name: 'test_gate', arguments: { gate: 'g-q2' } });
    await s.next((f) => f.op === 'call_tool_ack' && f.request_id === 'q1');
    await s.next((f) => f.op === 'call_tool_ack' && f.request_id === 'q2');
    s.send({ op: 'call_tool', request_id: 'q3', name: 'test_echo', arguments: { text: 'third' } });
    expect(await s.next((f) => f.request_id === 'q3')).toMatchObject({ op: 'progress', note: 'accepted' });
    const queued = await s.next((f) => f.request_id === 'q3');
    expect(queued).toMatchObject({
      op: 'progress',
      name: 'test_echo',
      note: 'queued',
      waiting_for: 'session',
      position: 1,
    });
    expect(s.frames.some((f) => f.request_id === 'q3' && f.op === 'call_tool_ack')).toBe(false);
    daemon.probe.open('g-q1');
    expect(toolOutput(await s.result('q1')).content).toBe('gate g-q1 opened');
    const third = await s.callFrames('q3');
    expect(third.map((f) => f.op)).toEqual(['call_tool_ack', 'call_tool_res']);
    expect(toolOutput(third[1]).content).toBe('third');
    daemon.probe.open('g-q2');
    await s.result('q2');
  });

  it('(c) the queue timeout answers OVER_CAPACITY with retry_after >= 1 and charges nothing', async () => {
    const s = await connect('timeout-session');
    s.send({ op: 'call_tool', request_id: 't1', name: 'test_gate', arguments: { gate: 'g-t1' } });
    s.send({ op: 'call_tool', request_id: 't2', name: 'test_gate', arguments: { gate: 'g-t2' } });
    await s.next((f) => f.op === 'call_tool_ack' && f.request_id === 't2');
    s.send({ op: 'call_tool', request_id: 't3', name: 'test_echo', arguments: { text: 'late' } });
    const res = await s.result('t3', 5000);
    expect(res.error).toMatchObject({
      code: 'OVER_CAPACITY',
      limit: 'session',
      message: 'Session concurrency limit reached; retry soon',
    });
    expect((res.error as { retry_after: number }).retry_after).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger((res.error as { retry_after: number }).retry_after)).toBe(true);
    const during = await snap.snapshot();
    expect(during.inFlight.global).toBe(2);
    expect(during.queued).toBe(0);
    daemon.probe.open('g-t1');
    daemon.probe.open('g-t2');
    await Promise.all([s.result('t1'), s.result('t2')]);
    await waitFor(idle);
  });

  it('(d) a disconnect mid-call aborts both calls and gives their permits back at once, not through the audit', async () => {
    const s = await connect('disconnect-session');
    s.send({ op: 'call_tool', request_id: 'd1', name: 'test_gate', arguments: { gate: 'never-d1' } });
    s.send({ op: 'call_tool', request_id: 'd2', name: 'test_gate', arguments: { gate: 'never-d2' } });
    await s.next((f) => f.op === 'call_tool_ack' && f.request_id === 'd2');
    const before = await snap.snapshot();
    expect(before.inFlight.global).toBe(2);
    s.close();
    await s.waitClose();
    // The speed of this is measured in `npm run bench`; here: it happens, and by the
    // disconnect path (tools aborted, leases released), not by an audit reclaim.
    await waitFor(async () => (await snap.snapshot()).leases === 0, 5000, 'the leases to be released');
    const after = await snap.snapshot();
    expect(after.inFlight.global).toBe(0);
    expect(after.reclaimed).toEqual(before.reclaimed);
    expect(daemon.probe.aborted).toEqual(expect.arrayContaining(['d1', 'd2']));
  });

  it('(e) the audit reclaims a lease leaked on purpose and leaves a running call alone', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const ledger = daemon.app.get(LeaseLedger);
    const audit = daemon.app.get(LeakAuditTasks);
    const runner = await connect('runner');
    runner.send({ op: 'call_tool', request_id: 'keep', name: 'test_gate', arguments: { gate: 'g-keep' } });
    await runner.next((f) => f.op === 'call_tool_ack');
    const runningLease = ledger.all().find((l) => l.requestId === 'keep')!;

    // A lease nobody will give back: taken straight from admission, for a
    // caller that is gone, and dropped on the floor.
    const aborted: Error[] = [];
    await daemon.app.get(AdmissionService).acquire(
      {
        requestId: 'leak',
        sessionId: 'leaker',
        connectionId: 'gone',
        timeoutMs: 60_000,
        isLive: () => false,
        abort: (reason) => aborted.push(reason),
      },
      { signal: new AbortController().signal },
    );
    expect(
      ledger
        .all()
        .map((l) => l.requestId)
        .sort(),
    ).toEqual(['keep', 'leak']);

    const report = await audit.run();
    expect(report!.reclaimed).toEqual([
      expect.objectContaining({ requestId: 'leak', sessionId: 'leaker', reason: 'orphaned' }),
    ]);
    expect(ledger.all()).toEqual([runningLease]);
    expect(aborted.map((e) => e.message)).toEqual(['Lease reclaimed by the leak audit (orphaned)']);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^SEMAPHORE HEALTH: reclaimed orphaned lease .* \(request leak, session leaker/),
    );
    const health = (await (await fetch(`${daemon.httpUrl}/health`)).json()) as {
      details: { concurrency: Record<string, unknown> };
    };
    expect(health.details.concurrency).toMatchObject({ reclaimed: { orphaned: 1, expired: 0, drift: 0 }, leases: 1 });
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/exai_leases_reclaimed_total\{reason="orphaned"\} 1/);

    daemon.probe.open('g-keep');
    expect(toolOutput(await runner.result('keep')).content).toBe('gate g-keep opened');
    warn.mockRestore();
  });

  it('shows the snapshot in /health and the health op, serves the metrics, and schedules the audit', async () => {
    const body = (await (await fetch(`${daemon.httpUrl}/health`)).json()) as {
      details: { concurrency: Record<string, unknown> };
    };
    const concurrency = body.details.concurrency;
    for (const key of ['capacity', 'inFlight', 'queued', 'leases', 'reclaimed', 'lastAuditAt'])
      expect(concurrency).toHaveProperty(key);
    expect(concurrency.capacity).toEqual({ global: 5, session: 2, GLM: 2, KIMI: 3 });
    expect(concurrency.lastAuditAt).toEqual(expect.any(String));
    const c = await connect('health-op');
    c.send({ op: 'health' });
    const res = await c.next();
    expect((res.health as Record<string, unknown>).concurrency).toMatchObject({ capacity: { global: 5 }, queued: 0 });
    expect(res.health).toMatchObject({ global_capacity: 5, global_inflight: 0 });
    const metrics = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    for (const name of [
      'exai_inflight{limit="global"}',
      'exai_capacity{limit="KIMI"} 3',
      'exai_queue_depth',
      'exai_queue_wait_seconds_bucket',
      'exai_admissions_total',
      'exai_calls_total',
      'exai_ws_connections',
      'process_cpu_seconds_total',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).not.toMatch(/session_id|request_id/);
    const scheduler = daemon.app.get(SchedulerRegistry);
    expect(scheduler.getCronJob('exai-leak-audit').cronTime.source).toBe('0 */1 * * * *');
  });

  it('(f) 1,000 calls from 50 sessions with random cancels and disconnects: one terminal frame each, ledger empty', async () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const sessions = await Promise.all(Array.from({ length: 50 }, (_, i) => connect(`load-${i}`)));
    const dropped = new Set([3, 17, 29, 41]);
    const sent = new Map<TestClient, string[]>();
    const cancelled = new Set<string>();
    sessions.forEach((c, i) => {
      const ids: string[] = [];
      for (let k = 0; k < 20; k++) {
        const id = `L${i}-${k}`;
        ids.push(id);
        c.send({
          op: 'call_tool',
          request_id: id,
          name: 'test_echo',
          arguments: { text: id, delay_ms: Math.floor(rand() * 15) },
        });
        if (rand() < 0.1) {
          c.send({ op: 'cancel', request_id: id });
          cancelled.add(id);
        }
      }
      sent.set(c, ids);
    });
    // Disconnect while those sessions have calls running.
    await Promise.all(
      [...dropped].map((i) => sessions[i].next((f) => f.op === 'call_tool_ack' || f.op === 'call_tool_res', 30_000)),
    );
    for (const i of dropped) sessions[i].close();

    const survivors = sessions.filter((_, i) => !dropped.has(i));
    const received: Frame[] = [];
    await Promise.all(
      survivors.map(async (c) => {
        for (const id of sent.get(c)!)
          received.push(await c.next((f) => f.op === 'call_tool_res' && f.request_id === id, 60000));
      }),
    );
    expect(received).toHaveLength(46 * 20);
    expect(new Set(received.map((f) => f.request_id)).size).toBe(46 * 20);
    for (const res of received) {
      const id = res.request_id as string;
      const code = (res.error as { code?: string } | undefined)?.code;
      // Each call either ran (its own text back), was cancelled because we asked,
      // or timed out in the queue under load; nothing else.
      if (code === undefined) expect(toolOutput(res).content).toBe(id);
      else expect([id, code]).toEqual([id, cancelled.has(id) ? 'CANCELLED' : 'OVER_CAPACITY']);
    }
    await waitFor(idle, 5000);
    // Every call has ended; a round trip on each connection flushes anything
    // still on its way, so a second terminal frame would be here by now.
    await Promise.all(
      survivors.map(async (c, i) => {
        c.send({ op: 'list_tools', request_id: `flush-${i}` });
        await c.next((f) => f.request_id === `flush-${i}`, 10_000);
      }),
    );
    for (const c of survivors) expect(c.frames.filter((f: Frame) => f.op === 'call_tool_res')).toEqual([]);
    const final = await snap.snapshot();
    expect(final).toMatchObject({ leases: 0, queued: 0, reclaimed: { expired: 0, drift: 0 } });
  }, 120000);
});
