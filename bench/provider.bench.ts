import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request as httpRequest } from 'undici';
import type WebSocket from 'ws';
import { freePort } from '../test/support/redis';
import { helloed, request } from './bench.ws';
import { fmt, nowUs, Summary, summarize } from './stats';
import type { Targets } from './targets';

function spawnAndWait(
  script: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        // Keep draining the child's output, unread, so its pipe never fills.
        child.stdout.removeAllListeners('data');
        child.stderr.removeAllListeners('data');
        child.stdout.resume();
        child.stderr.resume();
        resolve({ child, match });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

const MODEL = 'glm-4.5-flash';
const ROUNDS = 10;
const PER_ROUND = 100;
const WARMUP = 100;

/** One way of making the same chat call; returns once the whole answer is in. `i` keeps every prompt unique (no cache hits). */
type Path = (i: number) => Promise<void>;

interface PathStats {
  name: string;
  all: Summary;
  rounds: Summary[];
}

/**
 * The daemon's added latency over calling the simulator directly, both at
 * zero simulated latency. Simulator and daemon run as their own processes,
 * as in production, so neither one's CPU time is charged to the other.
 *
 * Every iteration calls each path once in turn (direct, WS chat, /v1 ...), so
 * noise lands on all paths alike; the iterations are grouped in rounds, and
 * the spread of the per-round figures shows how far one number can be trusted.
 * BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the daemon there.
 */
export async function providerBench(targets: Targets): Promise<void> {
  const sim = await spawnAndWait(
    join(__dirname, '..', 'src', 'simulator', 'simulator.main.js'),
    { SIM_PORT: '0', SIM_SPEED: '0' },
    /GLM (http:\/\/\S+) /,
  );
  const glmBaseUrl = sim.match[1];
  const port = await freePort();
  const profDir = process.env.BENCH_CPU_PROF;
  const daemon = await spawnAndWait(
    join(__dirname, '..', 'src', 'main.js'),
    {
      EXAI_WS_PORT: String(port),
      EXAI_WS_HOST: '127.0.0.1',
      EXAI_WS_TOKEN: '',
      EXAI_PROVIDERS_MODE: 'real',
      GLM_API_KEY: 'sim-glm-key',
      GLM_API_URL: glmBaseUrl,
      EXAI_WS_RATE_LIMIT_PER_SEC: '100000',
      LOG_LEVEL: 'info',
    },
    /listening on (ws:\/\/[^\s"]+)/,
    profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  );
  const ws = await helloed(daemon.match[1], 'bench-provider');
  const openAiUrl = `http://127.0.0.1:${port}/v1/chat/completions`;
  // Both HTTP paths use undici's pooled request(), the cheapest Node client
  // (fetch's web streams cost the bench process about a millisecond a call),
  // so the client's own cost stays small next to what is measured.
  const client = new Agent({ connections: 4 });
  const directUrl = `${glmBaseUrl}/chat/completions`;
  const paths: Array<[string, Path]> = [
    ['direct simulator call, stream', (i) => post(client, directUrl, true, `direct ${i}`, 'sim-glm-key')],
    ['WS chat tool', (i) => chatTool(ws, i)],
    ['POST /v1/chat/completions, stream', (i) => post(client, openAiUrl, true, `via /v1 ${i}`)],
    ['direct simulator call, no stream', (i) => post(client, directUrl, false, `direct ${i}`, 'sim-glm-key')],
    ['POST /v1/chat/completions, no stream', (i) => post(client, openAiUrl, false, `via /v1 ${i}`)],
  ];
  const samples = paths.map(() => [] as number[][]);
  // The daemon's CPU time per call is steadier than latency on a loaded machine.
  const cpu = daemonCpuClock(daemon.child.pid);
  const cpuUs = paths.map(() => 0);
  let call = 0;
  try {
    for (let i = 0; i < WARMUP; i++) for (const [, path] of paths) await path(call++);
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of samples) s.push([]);
      for (let i = 0; i < PER_ROUND; i++) {
        for (let p = 0; p < paths.length; p++) {
          const c0 = cpu();
          const t0 = nowUs();
          await paths[p][1](call++);
          samples[p][r].push(nowUs() - t0);
          cpuUs[p] += cpu() - c0;
        }
      }
    }
  } finally {
    ws.close();
    await client.close();
    await Promise.all([stop(daemon.child), stop(sim.child)]);
  }
  const stats: PathStats[] = paths.map(([name], p) => ({
    name,
    all: summarize(samples[p].flat()),
    rounds: samples[p].map(summarize),
  }));
  console.log(
    `provider paths, zero simulated latency, ${ROUNDS} interleaved rounds of ${PER_ROUND} calls per path (µs; spread = min..max of the per-round figure):`,
  );
  stats.forEach((s, p) => {
    const daemonCpu = p === 0 || p === 3 ? '' : `  daemon CPU ${fmt(cpuUs[p] / s.all.n, 0)} µs/call`;
    console.log(
      `  ${s.name.padEnd(38)} p50 ${fmt(s.all.p50).padStart(7)} (${spread(s.rounds, 'p50', 1)})  p99 ${fmt(s.all.p99).padStart(8)} (${spread(s.rounds, 'p99', 1)})${daemonCpu}`,
    );
  });
  const [direct, wsChat, v1, directJson, v1Json] = stats;
  added('added by WS chat over direct stream', wsChat, direct);
  added('added by /v1 stream over direct stream', v1, direct);
  added('added by /v1 no-stream over direct no-stream', v1Json, directJson);
  for (const [label, path] of [
    ['WS chat', wsChat],
    ['/v1 stream', v1],
  ] as const) {
    for (const [q, limit] of [
      ['p50', 1],
      ['p99', 2],
    ] as const) {
      const name = `added latency ${q}, ${label} over direct stream`;
      targets.line(name, {
        name,
        value: (path.all[q] - direct.all[q]) / 1000,
        kind: 'max',
        limit,
        unit: 'ms',
        digits: 2,
      });
    }
  }
  if (profDir) console.log(`  daemon CPU profile written under ${profDir}`);
}

/** The added-latency line: pooled p50/p99 differences and their per-round spread. */
function added(label: string, path: PathStats, base: PathStats): void {
  const p50 = (path.all.p50 - base.all.p50) / 1000;
  const p99 = (path.all.p99 - base.all.p99) / 1000;
  const perRound = (q: 'p50' | 'p99') => path.rounds.map((r, i) => (r[q] - base.rounds[i][q]) / 1000);
  const range = (xs: number[]) => `${fmt(Math.min(...xs), 2)}..${fmt(Math.max(...xs), 2)}`;
  console.log(
    `  ${label}: p50 ${fmt(p50, 2)} ms (rounds ${range(perRound('p50'))}), p99 ${fmt(p99, 2)} ms (rounds ${range(perRound('p99'))})`,
  );
}

/**
 * Microseconds the daemon's main thread has run, from Linux's
 * /proc/<pid>/task/<pid>/schedstat (nanosecond run time); NaN elsewhere.
 */
function daemonCpuClock(pid: number | undefined): () => number {
  const file = `/proc/${pid}/task/${pid}/schedstat`;
  return () => {
    try {
      return Number(readFileSync(file, 'utf8').split(' ')[0]) / 1000;
    } catch {
      return NaN;
    }
  };
}

function spread(rounds: Summary[], q: 'p50' | 'p99', digits: number): string {
  const xs = rounds.map((r) => r[q]);
  return `${fmt(Math.min(...xs), digits)}..${fmt(Math.max(...xs), digits)}`;
}

async function post(client: Agent, url: string, stream: boolean, content: string, key?: string): Promise<void> {
  const res = await httpRequest(url, {
    method: 'POST',
    dispatcher: client,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model: MODEL, stream, messages: [{ role: 'user', content }] }),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  if (stream && !text.trimEnd().endsWith('data: [DONE]')) throw new Error(`stream did not finish: ${text.slice(-200)}`);
}

/** One `chat` call over the WebSocket; an error result (a wrong key, a refused call) fails the bench, never counts. */
async function chatTool(ws: WebSocket, i: number): Promise<void> {
  let result = '';
  await request(
    ws,
    JSON.stringify({
      op: 'call_tool',
      request_id: `p${i}`,
      name: 'chat',
      arguments: { prompt: `via daemon ${i}`, model: MODEL },
    }),
    (m) => {
      if (!m.includes('"call_tool_res"')) return false;
      result = m;
      return true;
    },
  );
  const frame = JSON.parse(result) as { error?: unknown; outputs?: Array<{ text?: string }> };
  const output = frame.outputs?.[0]?.text;
  if (frame.error !== undefined || output === undefined || !output.startsWith('{"status":"success"')) {
    throw new Error(`chat call p${i} failed: ${result.slice(0, 300)}`);
  }
}
