import type { ChildProcess } from 'node:child_process';
import { startDaemonProcess } from './support/daemon-process';
import { TestClient } from './support/ws-client';
import { waitFor } from './support/wait';

const TOKEN = 'refusal-log-token';

describe('refusal logging of a real daemon process', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('logs one line for the first refused hello and one summary for the rest of the interval', async () => {
    const daemon = await startDaemonProcess({
      EXAI_WS_TOKEN: TOKEN,
      EXAI_PROVIDERS_MODE: 'simulated',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    });
    child = daemon.child;
    const { url } = daemon;
    const out = daemon.output;

    // 30 bad hellos over 6 addresses: under the per-address backoff threshold.
    for (let i = 0; i < 30; i++) {
      const bad = await TestClient.connect(url, { localAddress: `127.0.0.${30 + (i % 6)}` });
      bad.send({ op: 'hello', token: `wrong-${i}` });
      expect((await bad.waitClose()).code).toBe(4003);
    }
    const refusalLines = () =>
      out()
        .split('\n')
        .filter((l) => /Refused|Unauthorized|unauthorized/.test(l) && !l.includes('Client connected'));
    // Lines are written in batches (LOG_FLUSH_MS): wait for the first, then
    // check that it came alone (29 more lines would have come with it).
    await waitFor(() => refusalLines().length > 0, 10_000, 'the first refusal line');
    expect(refusalLines()).toHaveLength(1);
    expect(refusalLines()[0]).toContain('Refused a connection from 127.0.0.30: unauthorized');

    await waitFor(() => refusalLines().length === 2, 20_000, 'the summary line');
    const summary = JSON.parse(refusalLines()[1]) as { msg: string };
    expect(summary.msg).toMatch(
      /^Refused 29 connections in the last 10 s \(unauthorized 29\) from 6 addresses; busiest: /,
    );
    expect(out()).not.toContain(TOKEN);
  }, 60_000);
});
