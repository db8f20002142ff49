import type WebSocket from 'ws';
import { startDaemon } from '../src/app.setup';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { helloed, request } from './bench.ws';
import { fmt } from './stats';

const CAPACITY = 6;
const SESSIONS = 40;
const RUN_MS = 25_000;

interface Scenario {
  name: string;
  env: Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  { name: 'static 20 (too high)', env: { EXAI_WS_GLM_MAX_INFLIGHT: '20', EXAI_GLM_CONCURRENCY: 'static' } },
  { name: 'static 2 (too low)', env: { EXAI_WS_GLM_MAX_INFLIGHT: '2', EXAI_GLM_CONCURRENCY: 'static' } },
  { name: 'adaptive (ceiling 20)', env: { EXAI_WS_GLM_MAX_INFLIGHT: '20', EXAI_GLM_CONCURRENCY: 'adaptive' } },
];

/** 40 sessions calling `chat` back to back for RUN_MS; counts what they got. */
async function drive(url: string): Promise<{ ok: number; failed: number }> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SESSIONS; i++) sockets.push(await helloed(url, `bench-adaptive-${i}`));
  const until = Date.now() + RUN_MS;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    sockets.map(async (ws, i) => {
      for (let n = 0; Date.now() < until; n++) {
        let res = '';
        await request(
          ws,
          JSON.stringify({
            op: 'call_tool',
            request_id: `a${i}-${n}`,
            name: 'chat',
            arguments: { prompt: `session ${i} call ${n}`, model: 'glm-4.5-flash' },
          }),
          (m) => {
            const done = m.includes('"call_tool_res"');
            if (done) res = m;
            return done;
          },
        );
        if (res.includes('"error"')) {
          failed++;
          // A refused agent backs off a little before asking again.
          await new Promise((r) => setTimeout(r, 200));
        } else {
          ok++;
        }
      }
    }),
  );
  for (const ws of sockets) ws.close();
  return { ok, failed };
}

/**
 * Goodput and 429s against a simulator whose GLM serves 6 requests at once:
 * a static limit set too high, one set too low, and the adaptive limit, in
 * one run on the same machine. The simulator runs at speed 0.5 (a call takes
 * about 250-450 ms, more as the provider fills).
 */
export async function adaptiveBench(): Promise<void> {
  const sim = new ProviderSimulator({ speed: 0.5, capacity: { glm: CAPACITY } });
  await sim.start();
  console.log(
    `\nAdaptive concurrency: ${SESSIONS} sessions calling GLM continuously for ${RUN_MS / 1000} s, simulator capacity ${CAPACITY}`,
  );
  try {
    for (const scenario of SCENARIOS) {
      const env: Record<string, string> = {
        EXAI_WS_HOST: '127.0.0.1',
        EXAI_WS_TOKEN: '',
        LOG_LEVEL: 'silent',
        EXAI_PROVIDERS_MODE: 'real',
        GLM_API_KEY: 'sim-glm-key',
        GLM_API_URL: sim.glmBaseUrl,
        EXAI_WS_GLOBAL_MAX_INFLIGHT: '64',
        EXAI_WS_SESSION_MAX_INFLIGHT: '4',
        EXAI_WS_QUEUE_TIMEOUT_SECS: '120',
        EXAI_WS_RATE_LIMIT_PER_SEC: '100000',
        EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'chat',
        ...scenario.env,
      };
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      const app = await startDaemon({ port: 0 });
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      const url = (await app.getUrl()).replace('http', 'ws').replace('[::1]', '127.0.0.1') + '/';
      sim.capacity.resetStats();
      const { ok, failed } = await drive(url);
      const stats = sim.capacity.read('glm');
      await app.close();
      console.log(
        `  ${scenario.name.padEnd(22)} goodput ${fmt(ok / (RUN_MS / 1000), 2).padStart(6)} calls/s  ` +
          `upstream 429s ${String(stats.rejected).padStart(5)} of ${stats.admitted + stats.rejected} requests  failed calls ${failed}`,
      );
    }
  } finally {
    await sim.stop();
  }
}
