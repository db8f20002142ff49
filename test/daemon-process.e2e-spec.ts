import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { TestClient } from './support/ws-client';

// These tests run the compiled daemon (`npm test` builds dist/ first) as a real
// process, so that exit codes, stderr and signal handling are the real ones.
const MAIN = resolve(__dirname, '..', 'dist', 'main.js');
const SHUTDOWN_FIXTURE = resolve(__dirname, 'fixtures', 'shutdown-daemon.js');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const children: Child[] = [];
const tempDirs: string[] = [];

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'exai-daemon-process-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * Starts `node <script>` with the test's environment minus every EXAI_*
 * variable (so the runner's own settings cannot leak in), plus LOG_LEVEL=silent
 * and `env`; an undefined value removes the variable. The working directory is
 * an empty temp dir unless given, so no stray `.env` is read.
 */
function startNode(script: string, env: Record<string, string | undefined> = {}, cwd = freshDir()): Child {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EXAI_')) childEnv[k] = v;
  for (const [k, v] of Object.entries({ LOG_LEVEL: 'silent', ...env })) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const proc = spawn(process.execPath, [script], { cwd, env: childEnv, stdio: 'pipe' });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<Exit>((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  const child: Child = { proc, stdout: () => out, stderr: () => err, exited };
  children.push(child);
  return child;
}

function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()}: not within ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function exitOf(child: Child, ms: number): Promise<Exit> {
  return within(child.exited, ms, () => `process did not exit; stderr: ${child.stderr()}`);
}

/** Resolves with the URL the fixture prints once it listens. */
function readyUrl(child: Child, ms: number): Promise<string> {
  const ready = new Promise<string>((res, rej) => {
    const check = () => {
      const m = /^READY (\S+)$/m.exec(child.stdout());
      if (m) {
        child.proc.stdout.off('data', check);
        res(m[1]);
      }
    };
    child.proc.stdout.on('data', check);
    void child.exited.then((e) => rej(new Error(`fixture exited (${e.code ?? e.signal}): ${child.stderr()}`)));
    check();
  });
  return within(ready, ms, () => `no READY line; stdout: ${child.stdout()} stderr: ${child.stderr()}`);
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

afterEach(async () => {
  const leftovers = children.splice(0);
  for (const c of leftovers) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  }
  await Promise.all(leftovers.map((c) => within(c.exited, 5000, () => `pid ${c.proc.pid} survived SIGKILL`)));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('daemon process', () => {
  describe('refuses to start on bad configuration', () => {
    const BAD = { EXAI_WS_PORT: 'abc', EXAI_WS_GLOBAL_MAX_INFLIGHT: '0', EXAI_CONCURRENCY_PROFILE: 'turbo' };

    it('exits 1 with one plain message naming every bad key once', async () => {
      const child = startNode(MAIN, BAD);
      expect(await exitOf(child, 10_000)).toEqual({ code: 1, signal: null });
      const stderr = child.stderr();
      expect(stderr).toMatch(/^Invalid configuration:\n/);
      expect(count(stderr, 'Invalid configuration:')).toBe(1);
      // main() reports the error itself: no stack trace, no crash report.
      expect(stderr).not.toMatch(/^\s+at /m);
      const problems = stderr.split('\n').filter((line) => line.startsWith('  - '));
      expect(problems).toHaveLength(3);
      for (const key of Object.keys(BAD)) {
        expect(problems.filter((line) => line.startsWith(`  - ${key}=`))).toHaveLength(1);
      }
      expect(child.stdout()).not.toContain('listening');
    });

    it('a per-provider variable naming no provider (a typo): exit 1, naming the variable and the providers there are', async () => {
      const child = startNode(MAIN, { EXAI_WS_GLMM_MAX_INFLIGHT: '4', EXAI_KIMMI_CONCURRENCY: 'adaptive' });
      expect(await exitOf(child, 15_000)).toEqual({ code: 1, signal: null });
      expect(child.stderr()).toBe(
        'Invalid configuration:\n' +
          '  - EXAI_WS_GLMM_MAX_INFLIGHT: no provider has the id GLMM (providers: GLM, KIMI)\n' +
          '  - EXAI_KIMMI_CONCURRENCY: no provider has the id KIMMI (providers: GLM, KIMI)\n',
      );
      expect(child.stdout()).not.toMatch(/listening|successfully started/);
    });

    it('a port in use: one plain line naming the port, exit 1, never "successfully started"', async () => {
      const taken = createServer();
      await new Promise<void>((res) => taken.listen(0, '127.0.0.1', res));
      const port = (taken.address() as AddressInfo).port;
      try {
        const child = startNode(MAIN, { EXAI_WS_HOST: '127.0.0.1', EXAI_WS_PORT: String(port), LOG_LEVEL: 'info' });
        expect(await exitOf(child, 15_000)).toEqual({ code: 1, signal: null });
        expect(child.stderr()).toBe(
          `Port ${port} on 127.0.0.1 is already in use (another EXAI Gateway?). Stop it, or set EXAI_WS_PORT to a free port.\n`,
        );
        const out = child.stdout();
        expect(out).not.toMatch(/EADDRINUSE|successfully started|listening on/);
        expect(out).not.toMatch(/^\s+at /m);
      } finally {
        await new Promise((res) => taken.close(res));
      }
    });

    it('refuses a non-loopback bind without a token, naming EXAI_WS_TOKEN', async () => {
      const child = startNode(MAIN, { EXAI_WS_HOST: '0.0.0.0', EXAI_WS_TOKEN: '' });
      expect(await exitOf(child, 10_000)).toEqual({ code: 1, signal: null });
      expect(child.stderr()).toContain('EXAI_WS_TOKEN');
      expect(child.stderr()).toContain('EXAI_WS_HOST=0.0.0.0');
    });

    it('reads .env from the working directory', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, '.env'), 'EXAI_WS_PORT=notaport\n');
      const child = startNode(MAIN, { EXAI_WS_PORT: undefined }, dir);
      expect(await exitOf(child, 10_000)).toEqual({ code: 1, signal: null });
      expect(child.stderr()).toContain('EXAI_WS_PORT');
      expect(child.stderr()).toContain('notaport');
    });
  });

  describe('graceful shutdown on SIGTERM', () => {
    it('ends the in-flight call with SHUTTING_DOWN, closes 1001 and exits 0 within 10 s', async () => {
      const child = startNode(SHUTDOWN_FIXTURE, { EXAI_WS_HOST: '127.0.0.1', EXAI_WS_TOKEN: '' });
      const url = await readyUrl(child, 15_000);
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);

      const client = await TestClient.ready(url);
      client.send({ op: 'call_tool', request_id: 'r1', name: 'block_forever', arguments: {} });
      const ack = await client.next((f) => f.op === 'call_tool_ack' && f.request_id === 'r1', 5000);
      expect(ack).toMatchObject({ accepted: true, timeout: 60, name: 'block_forever' });

      const signalledAt = Date.now();
      expect(child.proc.kill('SIGTERM')).toBe(true);

      const res = await client.result('r1', 10_000);
      expect(res.error).toMatchObject({ code: 'SHUTTING_DOWN' });
      expect(res.outputs).toBeUndefined();

      // The daemon stopped accepting before it ended the call, so a newcomer
      // must not get a session: it is refused, or closed before its hello_ack.
      const late = TestClient.ready(url).then(
        (c) => {
          c.close();
          return 'accepted';
        },
        () => 'refused',
      );

      expect(await client.waitClose(10_000)).toMatchObject({ code: 1001 });
      expect(await exitOf(child, 10_000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(await late).toBe('refused');

      expect(client.frames.filter((f) => f.op === 'call_tool_res' && f.request_id === 'r1')).toEqual([]);
    }, 30_000);
  });
});
