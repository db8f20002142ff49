import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TestClient } from './support/ws-client';
import { waitFor } from './support/wait';

const MAIN = join(__dirname, '..', 'dist', 'main.js');
const TOKEN = 'refusal-log-token';

describe('refusal logging of a real daemon process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('logs one line for the first refused hello and one summary for the rest of the interval', async () => {
    let out = '';
    child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        EXAI_WS_HOST: '127.0.0.1',
        EXAI_WS_PORT: '0',
        EXAI_WS_TOKEN: TOKEN,
        EXAI_PROVIDERS_MODE: 'simulated',
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    let url = '';
    await waitFor(
      () => {
        url = /listening on (ws:\/\/[^\s"]+)/.exec(out)?.[1] ?? '';
        return url !== '';
      },
      15_000,
      'the daemon listening',
    );

    // 30 bad hellos over 6 addresses: under the per-address backoff threshold.
    for (let i = 0; i < 30; i++) {
      const bad = await TestClient.connect(url, { localAddress: `127.0.0.${30 + (i % 6)}` });
      bad.send({ op: 'hello', token: `wrong-${i}` });
      expect((await bad.waitClose()).code).toBe(4003);
    }
    const refusalLines = () =>
      out.split('\n').filter((l) => /Refused|Unauthorized|unauthorized/.test(l) && !l.includes('Client connected'));
    expect(refusalLines()).toHaveLength(1);
    expect(refusalLines()[0]).toContain('Refused a connection from 127.0.0.30: unauthorized');

    await waitFor(() => refusalLines().length === 2, 20_000, 'the summary line');
    const summary = JSON.parse(refusalLines()[1]) as { msg: string };
    expect(summary.msg).toMatch(
      /^Refused 29 connections in the last 10 s \(unauthorized 29\) from 6 addresses; busiest: /,
    );
    expect(out).not.toContain(TOKEN);
  }, 60_000);
});
