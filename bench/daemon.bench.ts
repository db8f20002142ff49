import type WebSocket from 'ws';
import { BenchProcess } from './bench.process';
import { helloed, open, request } from './bench.ws';
import { fmt, median, nowUs, spread, summarize } from './stats';
import type { Targets } from './targets';

/**
 * The daemon as agents run it (prod profile, info log), with room for the
 * memory section's connections. BENCH_LOG_LEVEL=warn shows what the per-call
 * info line costs.
 */
const DAEMON_ENV: Record<string, string> = {
  EXAI_WS_HOST: '127.0.0.1',
  EXAI_WS_TOKEN: '',
  LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
  EXAI_CONCURRENCY_PROFILE: 'prod',
  EXAI_WS_RATE_LIMIT_PER_SEC: '100000',
  EXAI_WS_MAX_CONNECTIONS: '5000',
  EXAI_WS_MAX_CONNECTIONS_PER_IP: '5000',
};

const RTT_ROUNDS = 10;
const RTT_PER_ROUND = 300;
const RTT_WARMUP = 500;
const TP_ROUNDS = 3;
const TP_SECONDS = 3;
const TP_SESSIONS = 100;
const IDLE_CONNECTIONS = 2_000;

const noopCall = (id: string) => `{"op":"call_tool","request_id":"${id}","name":"bench_noop"}`;
const isResult = (m: string) => m.includes('"call_tool_res"');

/**
 * No-op call_tool round trips next to raw ws echoes, one of each in turn
 * (which goes first alternates), over several rounds so noise hits both alike.
 */
async function roundTrips(daemonProcess: BenchProcess, echoUrl: string, targets: Targets): Promise<void> {
  const raw = await open(echoUrl);
  const daemon = await helloed(daemonProcess.url, 'bench-rtt');
  let n = 0;
  const rawOnce = async () => {
    const t0 = nowUs();
    await request(raw, `{"op":"echo","i":${n}}`, () => true);
    return nowUs() - t0;
  };
  const daemonOnce = async () => {
    const t0 = nowUs();
    await request(daemon, noopCall(`b${n++}`), isResult);
    return nowUs() - t0;
  };
  for (let i = 0; i < RTT_WARMUP; i++) {
    await rawOnce();
    await daemonOnce();
  }
  const rawAll: number[] = [];
  const daemonAll: number[] = [];
  const p50Ratios: number[] = [];
  const p99Ratios: number[] = [];
  const cpu0 = await daemonProcess.cpuUs();
  for (let r = 0; r < RTT_ROUNDS; r++) {
    const rawRound: number[] = [];
    const daemonRound: number[] = [];
    for (let i = 0; i < RTT_PER_ROUND; i++) {
      if (i % 2 === 0) {
        rawRound.push(await rawOnce());
        daemonRound.push(await daemonOnce());
      } else {
        daemonRound.push(await daemonOnce());
        rawRound.push(await rawOnce());
      }
    }
    const rs = summarize(rawRound);
    const ds = summarize(daemonRound);
    p50Ratios.push(ds.p50 / rs.p50);
    p99Ratios.push(ds.p99 / rs.p99);
    rawAll.push(...rawRound);
    daemonAll.push(...daemonRound);
  }
  // Idle between its calls, the daemon runs each one from cold caches: this
  // is well above the CPU per call under load, and what a lone call waits on.
  const cpuPerCall = ((await daemonProcess.cpuUs()) - cpu0) / daemonAll.length;
  raw.close();
  daemon.close();
  const r = summarize(rawAll);
  const d = summarize(daemonAll);
  console.log(`round trip, concurrency 1, ${RTT_ROUNDS} interleaved rounds of ${RTT_PER_ROUND}:`);
  console.log(`  raw ws echo (${r.n}): p50 ${fmt(r.p50)} µs, p99 ${fmt(r.p99)} µs`);
  console.log(`  daemon call_tool, no-op tool (${d.n}): p50 ${fmt(d.p50)} µs, p99 ${fmt(d.p99)} µs`);
  console.log(`  daemon CPU per call at concurrency 1: ${fmt(cpuPerCall)} µs`);
  console.log(
    `  per-round ratio spread: p50 ${spread(p50Ratios)}x, p99 ${spread(p99Ratios)}x (ratios below are of all samples)`,
  );
  targets.line('round trip p50, daemon / raw ws echo', {
    name: 'round trip p50, daemon / raw ws echo',
    value: d.p50 / r.p50,
    kind: 'max',
    limit: 2,
    unit: 'x',
    digits: 2,
  });
  targets.line('round trip p99, daemon / raw ws echo', {
    name: 'round trip p99, daemon / raw ws echo',
    value: d.p99 / r.p99,
    kind: 'max',
    limit: 2,
    unit: 'x',
    digits: 2,
  });
}

/** Closed loop: each session sends its next call when the last one's result arrived. */
async function callsPerSecond(
  clients: WebSocket[],
  seconds: number,
  frame: (i: number, k: number) => string,
  done: (m: string) => boolean,
): Promise<{ rate: number; count: number }> {
  let count = 0;
  const until = Date.now() + seconds * 1000;
  const t0 = nowUs();
  await Promise.all(
    clients.map(async (ws, i) => {
      for (let k = 0; Date.now() < until; k++) {
        await request(ws, frame(i, k), done);
        count++;
      }
    }),
  );
  return { rate: count / ((nowUs() - t0) / 1e6), count };
}

/** 100 sessions back to back, next to 100 raw echo clients (the load generator's own ceiling), per round. */
async function throughput(daemon: BenchProcess, echoUrl: string, targets: Targets): Promise<void> {
  const daemonUrl = daemon.url;
  const sessions = await Promise.all(Array.from({ length: TP_SESSIONS }, (_, i) => helloed(daemonUrl, `tp-${i}`)));
  const echoes = await Promise.all(Array.from({ length: TP_SESSIONS }, () => open(echoUrl)));
  let overCapacity = 0;
  const daemonDone = (m: string) => {
    if (!isResult(m)) return false;
    if (m.includes('OVER_CAPACITY')) overCapacity++;
    return true;
  };
  const daemonRates: number[] = [];
  const echoRates: number[] = [];
  const cpuPerCall: number[] = [];
  const clientCpuPerCall: number[] = [];
  let round = 0;
  const daemonRound = async () => {
    const cpu0 = await daemon.cpuUs();
    const client0 = process.cpuUsage();
    const { rate, count } = await callsPerSecond(
      sessions,
      TP_SECONDS,
      (i, k) => noopCall(`t${round}-${i}-${k}`),
      daemonDone,
    );
    // What the daemon itself spends per call, however busy the rest of the machine is.
    const client = process.cpuUsage(client0);
    cpuPerCall.push(((await daemon.cpuUs()) - cpu0) / count);
    clientCpuPerCall.push((client.user + client.system) / count);
    daemonRates.push(rate);
  };
  const echoRound = async () => {
    const echoFrame = (i: number, k: number) => `{"op":"echo","i":${i},"k":${k}}`;
    echoRates.push((await callsPerSecond(echoes, TP_SECONDS, echoFrame, () => true)).rate);
  };
  for (; round < TP_ROUNDS; round++) {
    if (round % 2 === 0) {
      await daemonRound();
      await echoRound();
    } else {
      await echoRound();
      await daemonRound();
    }
  }
  for (const ws of [...sessions, ...echoes]) ws.close();
  console.log(
    `throughput, ${TP_SESSIONS} concurrent sessions, ${TP_ROUNDS} interleaved rounds of ${TP_SECONDS} s (median, spread):`,
  );
  console.log(
    `  raw ws echo, ${TP_SESSIONS} clients: ${fmt(median(echoRates), 0)} msgs/s (${spread(echoRates, 0)})  the load generator's ceiling`,
  );
  console.log(
    `  daemon, no-op tool, prod profile: ${fmt(median(daemonRates), 0)} calls/s (${spread(daemonRates, 0)}), ${overCapacity} OVER_CAPACITY`,
  );
  console.log(
    `  daemon CPU per call: ${fmt(median(cpuPerCall))} µs (${spread(cpuPerCall, 1)}), so one core serves at most ${fmt(1e6 / median(cpuPerCall), 0)} calls/s`,
  );
  const both = median(cpuPerCall) + median(clientCpuPerCall);
  console.log(
    `  load generator CPU per call: ${fmt(median(clientCpuPerCall))} µs (${spread(clientCpuPerCall, 1)}); ` +
      `daemon + generator on 2 idle cores: at most ${fmt(2e6 / both, 0)} calls/s`,
  );
  targets.line(`throughput at ${TP_SESSIONS} sessions`, {
    name: `throughput at ${TP_SESSIONS} sessions, no-op tool`,
    value: median(daemonRates),
    kind: 'min',
    limit: 8000,
    unit: 'calls/s',
    digits: 0,
  });
}

/**
 * RSS of a fresh daemon before and after 2,000 connections that said hello
 * and then sit idle, each measured after two full GCs in the daemon; then
 * 2,000 more. The target is the first figure, printed unchanged. Beside it,
 * where that RSS went: V8's young generation reaches its working size during
 * start-up (twice Node 20's on Node 24), but a fresh Node 24 daemon has
 * touched only part of it; the rest becomes resident, once and for good
 * (~10 MiB), when some 40 MB more has been allocated,
 * whatever allocates it (a connect and hello allocate about 24 KB, a no-op
 * call about 50 KB). So part of a fresh daemon's RSS delta belongs to no
 * connection. The second 2,000 land on a daemon past that and show what each
 * connection holds.
 */
async function idleMemory(targets: Targets): Promise<void> {
  const daemon = await BenchProcess.start('noop-daemon.main.js', DAEMON_ENV);
  const sockets: WebSocket[] = [];
  const connect = async (prefix: string) => {
    // In batches below EXAI_WS_MAX_PENDING_HELLOS, as agents arrive, not as a flood.
    for (let i = 0; i < IDLE_CONNECTIONS; i += 100) {
      const batch = Array.from({ length: Math.min(100, IDLE_CONNECTIONS - i) }, (_, j) =>
        helloed(daemon.url, `${prefix}-${i + j}`),
      );
      sockets.push(...(await Promise.all(batch)));
    }
    await new Promise((r) => setTimeout(r, 1000));
    return daemon.memory();
  };
  try {
    // Warm the daemon's code paths so the baseline includes what any connection needs once.
    const warm = await Promise.all(Array.from({ length: 50 }, (_, i) => helloed(daemon.url, `warm-${i}`)));
    for (const ws of warm) ws.close();
    await new Promise((r) => setTimeout(r, 500));
    const before = await daemon.memory();
    const after = await connect('idle');
    const more = await connect('more');
    const mib = (b: number) => fmt(b / 2 ** 20);
    const each = (a: number, b: number) => fmt((b - a) / IDLE_CONNECTIONS / 1024, 2);
    console.log(
      `idle connections (${IDLE_CONNECTIONS} after hello, fresh daemon): RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, ` +
        `heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB (heap ${each(before.heapUsed, after.heapUsed)} KB each), ` +
        `young generation ${mib(before.youngGen)} → ${mib(after.youngGen)} MiB resident`,
    );
    // The target's RSS delta, split: pages V8 touched in its young generation (once per
    // process, see above), the rest of its heap, and what lies outside V8's heap (each
    // socket's native state, and memory malloc keeps after the JIT's compiler threads).
    const young = after.youngGen - before.youngGen;
    const heapRest = after.heapResident - before.heapResident - young;
    const outside = after.rss - before.rss - (after.heapResident - before.heapResident);
    console.log(
      `  that RSS (the target's figure), KB each: young generation ${each(0, young)}, rest of V8's heap ${each(0, heapRest)}, ` +
        `outside V8's heap (native socket state, malloc) ${each(0, outside)}`,
    );
    console.log(
      `  ${IDLE_CONNECTIONS} more: RSS ${each(after.rss, more.rss)} KB each, heap ${each(after.heapUsed, more.heapUsed)} KB each, ` +
        `young generation ${mib(after.youngGen)} → ${mib(more.youngGen)} MiB resident`,
    );
    targets.line('RSS per idle connection', {
      name: `RSS per idle connection, over ${IDLE_CONNECTIONS}`,
      value: (after.rss - before.rss) / IDLE_CONNECTIONS / 1024,
      kind: 'max',
      limit: 8,
      unit: 'KB',
      digits: 2,
    });
  } finally {
    for (const ws of sockets) ws.terminate();
    await daemon.stop();
  }
}

/**
 * Round trips against a raw ws echo, throughput, and idle memory. The daemon
 * and the echo server run in their own processes; this one only drives them.
 */
export async function daemonBench(targets: Targets): Promise<void> {
  console.log('');
  const [daemon, echo] = await Promise.all([
    BenchProcess.start('noop-daemon.main.js', DAEMON_ENV),
    BenchProcess.start('echo-server.main.js', {}),
  ]);
  try {
    await roundTrips(daemon, echo.url, targets);
    await throughput(daemon, echo.url, targets);
  } finally {
    await Promise.all([daemon.stop(), echo.stop()]);
  }
  await idleMemory(targets);
}
