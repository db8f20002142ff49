import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../test/support/redis';
import { helloed, request } from './bench.ws';
import { fmt, nowUs, summarize } from './stats';

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
export async function providerBench(): Promise<void> {
  const sim = await spawnAndWait(
    join(__dirname, '..', 'src', 'simulator', 'simulator.main.js'),
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
  const viaOpenAi: number[] = [];
  const openAiUrl = `http://127.0.0.1:${port}/v1/chat/completions`;
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
      t0 = nowUs();
      const viaHttp = await fetch(openAiUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'glm-4.5-flash',
          stream: true,
          messages: [{ role: 'user', content: `via /v1 ${i}` }],
        }),
      });
      const sse = await viaHttp.text();
      if (!sse.endsWith('data: [DONE]\n\n')) throw new Error(`/v1 stream did not finish: ${sse.slice(-200)}`);
      const openAiUs = nowUs() - t0;
      if (i >= 100) {
        direct.push(directUs);
        viaDaemon.push(daemonUs);
        viaOpenAi.push(openAiUs);
      }
    }
  } finally {
    ws.close();
    daemon.child.kill('SIGTERM');
    sim.child.kill('SIGTERM');
  }
  const d = summarize(direct);
  const v = summarize(viaDaemon);
  const o = summarize(viaOpenAi);
  console.log(`direct simulator chat call, stream, zero latency (${d.n}): p50 ${fmt(d.p50)} µs, p99 ${fmt(d.p99)} µs`);
  console.log(`same call through the daemon's chat tool (${v.n}): p50 ${fmt(v.p50)} µs, p99 ${fmt(v.p99)} µs`);
  console.log(
    `  added by the daemon: p50 ${fmt((v.p50 - d.p50) / 1000, 2)} ms, p99 ${fmt((v.p99 - d.p99) / 1000, 2)} ms  [target p99 added <= 2 ms]`,
  );
  console.log(
    `same call through POST /v1/chat/completions, stream (${o.n}): p50 ${fmt(o.p50)} µs, p99 ${fmt(o.p99)} µs`,
  );
  console.log(
    `  added by /v1 (HTTP): p50 ${fmt((o.p50 - d.p50) / 1000, 2)} ms, p99 ${fmt((o.p99 - d.p99) / 1000, 2)} ms` +
      `  | WS: p50 ${fmt((v.p50 - d.p50) / 1000, 2)} ms, p99 ${fmt((v.p99 - d.p99) / 1000, 2)} ms`,
  );
}
