import type { ChildProcess } from 'node:child_process';
import { startDaemonProcess } from './support/daemon-process';

/** Stops the daemon cleanly (its last lines flushed) and returns its JSON lines. */
async function stopAndReadLines(child: ChildProcess, output: () => string): Promise<Array<Record<string, unknown>>> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return output()
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the per-request HTTP log line', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('is one line per request: completed, errored for a 5xx, none for a health poll, with the same fields as before', async () => {
    // No keys: the embedded simulator answers, so nothing leaves the machine.
    const daemon = await startDaemonProcess({ EXAI_WS_TOKEN: '', LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, 10_000);
    child = daemon.child;
    const base = daemon.url.replace(/^ws/, 'http').replace(/\/$/, '');
    const chat = (content: string) =>
      fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'glm-4.5-flash', messages: [{ role: 'user', content }] }),
      });
    const ok = await chat('hello');
    expect(ok.status).toBe(200);
    await ok.json();
    // The provider refuses the request (403, not retried): the API answers 502.
    const failed = await chat('bad [[sim:error=403]]');
    expect(failed.status).toBe(502);
    await failed.json();
    const models = await fetch(`${base}/v1/models?api_key=sk-querysecret-1&limit=2&%74oken=tok-querysecret-2`);
    expect(models.status).toBe(200);
    await models.json();
    const live = await fetch(`${base}/health/live`);
    expect(live.status).toBe(200);
    await live.text();

    const lines = (await stopAndReadLines(child, daemon.output)).filter((r) => String(r.msg).startsWith('request '));
    expect(lines.map((r) => r.msg)).toEqual(['request completed', 'request errored', 'request completed']);
    const [completed, errored, listed] = lines;
    // A credential in the query string keeps its name, not its value.
    expect(listed.req).toMatchObject({ url: '/v1/models?api_key=[redacted]&limit=2&%74oken=[redacted]' });
    expect(daemon.output()).not.toMatch(/querysecret/);
    expect(completed).toMatchObject({
      level: 30,
      req: { method: 'POST', url: '/v1/chat/completions', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
    });
    expect(Object.keys(completed.req as object).sort()).toEqual(['id', 'method', 'remoteAddress', 'url']);
    expect(typeof completed.responseTime).toBe('number');
    expect(errored).toMatchObject({
      level: 30,
      req: { method: 'POST', url: '/v1/chat/completions' },
      res: { statusCode: failed.status },
      err: { message: `failed with status code ${failed.status}` },
    });
    // Every request has its own id.
    expect((errored.req as { id: number }).id).not.toBe((completed.req as { id: number }).id);
  });
});
