import 'reflect-metadata';
import { Injectable, Logger, Module, type INestApplication } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startDaemon } from '../src/app.setup';
import { ExaiTool } from '../src/tools/exai-tool.decorator';
import type { ExaiToolHandler, ToolResult } from '../src/tools/tool.types';
import { concurrencyKit } from '../test/support/concurrency-kit';
import { freePort, TestRedis } from '../test/support/redis';
import { ConcurrencyEnv, toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import { RedisConcurrencyBackend } from '../src/concurrency/redis/redis-concurrency.backend';
import type { LeaseHolder } from '../src/concurrency/lease';
import { parseEnv } from '../src/config/validate-config';
import { MetricsService } from '../src/metrics/metrics.service';
import type { LlmProvider } from '../src/providers/llm-provider';
import type { LlmProviderRegistry } from '../src/providers/llm-provider-registry.service';
import { ModelSelectionCache } from '../src/routing/model-selection.cache';
import { RoutingEnv, toRoutingConfig } from '../src/routing/routing.config';
import { RoutingService } from '../src/routing/routing.service';
import { fmt, nowUs, summarize } from './stats';

// Benchmarks print figures and ratios; they never assert on time. Timings on
// a shared 2-core machine are noisy, so compare the ratios within one run.

@ExaiTool({
  name: 'bench_noop',
  description: 'Returns at once.',
  inputSchema: { type: 'object' },
  cacheable: false,
})
@Injectable()
class NoopTool implements ExaiToolHandler {
  execute(): Promise<ToolResult> {
    return Promise.resolve({ content: 'ok' });
  }
}

@Module({ providers: [NoopTool] })
class BenchToolsModule {}

/** One session's GLM call that is always live: the uncontended admission case. */
function benchHolder(): LeaseHolder {
  return {
    requestId: 'bench',
    sessionId: 'bench',
    connectionId: 'bench',
    provider: 'GLM',
    timeoutMs: 60_000,
    isLive: () => true,
    abort: () => undefined,
  };
}

async function admissionOverhead(): Promise<void> {
  const { admission } = concurrencyKit({ EXAI_WS_QUEUE_TIMEOUT_SECS: '30' });
  const signal = new AbortController().signal;
  const holder = benchHolder();
  for (let i = 0; i < 5_000; i++) (await admission.acquire(holder, { signal })).release();
  await new Promise((r) => setImmediate(r));
  const samples: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const t0 = nowUs();
    const lease = await admission.acquire(holder, { signal });
    lease.release();
    samples.push(nowUs() - t0);
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  const s = summarize(samples);
  console.log(
    `admission (uncontended acquire + release, ${s.n} runs): p50 ${fmt(s.p50)} µs, p99 ${fmt(s.p99)} µs  [target p99 <= 50 µs]`,
  );
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function request(ws: WebSocket, frame: string, done: (msg: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      if (done((data as Buffer).toString())) {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
    ws.send(frame);
  });
}

async function helloed(url: string, session: string): Promise<WebSocket> {
  const ws = await open(url);
  await request(ws, JSON.stringify({ op: 'hello', session_id: session }), (m) => m.includes('hello_ack'));
  return ws;
}

async function roundTrips(daemonUrl: string): Promise<void> {
  const echo = createServer();
  const wss = new WebSocketServer({ server: echo });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send((data as Buffer).toString())));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoUrl = `ws://127.0.0.1:${(echo.address() as AddressInfo).port}/`;

  const N = 3_000;
  const raw = await open(echoUrl);
  const daemon = await helloed(daemonUrl, 'bench-rtt');
  const rawSamples: number[] = [];
  const daemonSamples: number[] = [];
  // Interleaved so that machine noise hits both series alike.
  for (let i = 0; i < N + 300; i++) {
    let t0 = nowUs();
    await request(raw, `{"op":"echo","i":${i}}`, () => true);
    const rawUs = nowUs() - t0;
    t0 = nowUs();
    await request(daemon, JSON.stringify({ op: 'call_tool', request_id: `b${i}`, name: 'bench_noop' }), (m) =>
      m.includes('"call_tool_res"'),
    );
    const daemonUs = nowUs() - t0;
    if (i >= 300) {
      rawSamples.push(rawUs);
      daemonSamples.push(daemonUs);
    }
  }
  const r = summarize(rawSamples);
  const d = summarize(daemonSamples);
  console.log(`raw ws echo round trip (${r.n}): p50 ${fmt(r.p50)} µs, p99 ${fmt(r.p99)} µs`);
  console.log(
    `daemon call_tool round trip, no-op tool, concurrency 1 (${d.n}): p50 ${fmt(d.p50)} µs, p99 ${fmt(d.p99)} µs  [target p99 <= 1000 µs]`,
  );
  console.log(`  ratio daemon/raw: p50 ${fmt(d.p50 / r.p50, 2)}x, p99 ${fmt(d.p99 / r.p99, 2)}x`);
  raw.close();
  daemon.close();
  wss.close();
  echo.close();
}

async function throughput(daemonUrl: string, sessions: number, seconds: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: sessions }, (_, i) => helloed(daemonUrl, `tp-${i}`)));
  let done = 0;
  let overCapacity = 0;
  const until = Date.now() + seconds * 1000;
  const t0 = nowUs();
  await Promise.all(
    clients.map(async (ws, i) => {
      let k = 0;
      while (Date.now() < until) {
        await request(ws, JSON.stringify({ op: 'call_tool', request_id: `t${i}-${k++}`, name: 'bench_noop' }), (m) => {
          if (!m.includes('"call_tool_res"')) return false;
          if (m.includes('OVER_CAPACITY')) overCapacity++;
          return true;
        });
        done++;
      }
    }),
  );
  const secs = (nowUs() - t0) / 1e6;
  console.log(
    `throughput, ${sessions} concurrent sessions, no-op tool, prod profile: ${fmt(done / secs, 0)} calls/s (${done} calls in ${fmt(secs, 1)} s, ${overCapacity} OVER_CAPACITY)`,
  );
  for (const ws of clients) ws.close();
}

function spawnAndWait(
  script: string,
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
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

/**
 * The daemon's added latency over calling the simulator directly, both at
 * zero simulated latency. Simulator and daemon run as their own processes,
 * as in production, so neither one's CPU time is charged to the other.
 */
async function providerOverhead(): Promise<void> {
  const sim = await spawnAndWait(
    join(__dirname, '..', 'src', 'providers', 'simulator', 'simulator.main.js'),
    { SIM_PORT: '0', SIM_SPEED: '0' },
    /GLM (http:\/\/\S+) /,
  );
  const glmBaseUrl = sim.match[1];
  const port = await freePort();
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
  );
  const ws = await helloed(daemon.match[1], 'bench-provider');
  const direct: number[] = [];
  const viaDaemon: number[] = [];
  const N = 1_000;
  try {
    for (let i = 0; i < N + 100; i++) {
      let t0 = nowUs();
      const res = await fetch(`${glmBaseUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sim-glm-key', 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'glm-4.5-flash',
          stream: true,
          messages: [{ role: 'user', content: `direct ${i}` }],
        }),
      });
      await res.text();
      const directUs = nowUs() - t0;
      t0 = nowUs();
      await request(
        ws,
        JSON.stringify({
          op: 'call_tool',
          request_id: `p${i}`,
          name: 'chat',
          arguments: { prompt: `via daemon ${i}`, model: 'glm-4.5-flash' },
        }),
        (m) => m.includes('"call_tool_res"'),
      );
      const daemonUs = nowUs() - t0;
      if (i >= 100) {
        direct.push(directUs);
        viaDaemon.push(daemonUs);
      }
    }
  } finally {
    ws.close();
    daemon.child.kill('SIGTERM');
    sim.child.kill('SIGTERM');
  }
  const d = summarize(direct);
  const v = summarize(viaDaemon);
  console.log(`direct simulator chat call, stream, zero latency (${d.n}): p50 ${fmt(d.p50)} µs, p99 ${fmt(d.p99)} µs`);
  console.log(`same call through the daemon's chat tool (${v.n}): p50 ${fmt(v.p50)} µs, p99 ${fmt(v.p99)} µs`);
  console.log(
    `  added by the daemon: p50 ${fmt((v.p50 - d.p50) / 1000, 2)} ms, p99 ${fmt((v.p99 - d.p99) / 1000, 2)} ms  [target p99 added <= 2 ms]`,
  );
}

async function inProcessDaemon(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  process.env.EXAI_WS_HOST = '127.0.0.1';
  process.env.EXAI_WS_TOKEN = '';
  process.env.EXAI_CONCURRENCY_PROFILE = 'prod';
  process.env.EXAI_WS_RATE_LIMIT_PER_SEC = '100000';
  process.env.EXAI_WS_MAX_CONNECTIONS_PER_IP = '1000';
  const app: INestApplication = await startDaemon({ port: 0, extensions: [BenchToolsModule] });
  const url = (await app.getUrl()).replace(/^http/, 'ws') + '/';
  try {
    await roundTrips(url);
    await throughput(url, 100, 5);
  } finally {
    await app.close();
  }
}

/** Uncontended admission on Redis (one Lua script + release), next to memory. Needs redis-server. */
async function redisAdmission(): Promise<void> {
  let redis: TestRedis;
  try {
    redis = await TestRedis.start();
  } catch (err) {
    console.log(`admission on Redis: skipped (${(err as Error).message})`);
    return;
  }
  Logger.overrideLogger(['error', 'fatal']);
  const backend = new RedisConcurrencyBackend(
    toConcurrencyConfig(parseEnv(ConcurrencyEnv, { EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: redis.url })),
  );
  await backend.onModuleInit();
  const { admission } = concurrencyKit({ EXAI_WS_QUEUE_TIMEOUT_SECS: '30' }, backend);
  const signal = new AbortController().signal;
  const holder = benchHolder();
  try {
    for (let i = 0; i < 500; i++) (await admission.acquire(holder, { signal })).release();
    const samples: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      const t0 = nowUs();
      const lease = await admission.acquire(holder, { signal });
      lease.release();
      samples.push(nowUs() - t0);
      // Let the release's ZREM reach Redis before the next acquire.
      await new Promise((r) => setImmediate(r));
    }
    const s = summarize(samples);
    console.log(
      `admission on Redis (uncontended acquire + release, ${s.n} runs, loopback redis-server): p50 ${fmt(s.p50)} µs, p99 ${fmt(s.p99)} µs`,
    );
  } finally {
    await backend.onModuleDestroy();
    await redis.stop();
  }
}

/** Cached `model: "auto"` resolution, the path every routed call takes. */
function routingResolve(): void {
  // As in production at LOG_LEVEL=info: the per-hit debug line is filtered out.
  Logger.overrideLogger(['log', 'warn', 'error', 'fatal']);
  const config = toRoutingConfig(parseEnv(RoutingEnv, {}));
  const providers = ['GLM', 'KIMI'].map((id) => ({ id, isAvailable: () => true }) as unknown as LlmProvider);
  const registry = {
    all: () => providers,
    get: (id: string) => providers.find((p) => p.id === id),
  } as unknown as LlmProviderRegistry;
  const routing = new RoutingService(config, new ModelSelectionCache(config, Date.now), registry, new MetricsService());
  const features = { tool: 'chat', deep: false, web: false, long: false };
  for (let i = 0; i < 20_000; i++) routing.resolve(features);
  const samples: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    const t0 = process.hrtime.bigint();
    routing.resolve(features);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const s = summarize(samples);
  console.log(
    `routing resolve, cache hit (${s.n}): p50 ${fmt(s.p50, 2)} µs, p99 ${fmt(s.p99, 2)} µs  [target p99 <= 5 µs]`,
  );
}

/** `npm run bench [admission|redis|routing|daemon|provider ...]`: all sections by default. */
async function main(): Promise<void> {
  const only = new Set(process.argv.slice(2));
  const want = (name: string) => only.size === 0 || only.has(name);
  console.log(`EXAI Gateway benchmarks — node ${process.version}, ${new Date().toISOString()}`);
  if (want('admission')) await admissionOverhead();
  if (want('redis')) await redisAdmission();
  if (want('routing')) routingResolve();
  if (want('daemon')) await inProcessDaemon();
  if (want('provider')) await providerOverhead();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
