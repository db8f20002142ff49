import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { startDaemon } from '../src/app.setup';
import { ExaiTool } from '../src/tools/exai-tool.decorator';
import type { ExaiToolHandler, ToolResult } from '../src/tools/tool.types';
import { helloed, open, request } from './bench.ws';
import { fmt, nowUs, summarize } from './stats';

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

/** Round trips against a raw ws echo, then throughput, on an in-process daemon (prod profile). */
export async function daemonBench(): Promise<void> {
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
