import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { runCli, type CliIo } from '../src/cli/cli.commands';
import { EXIT_CODES } from '../src/cli/cli.errors';
import { startTestDaemon, type TestDaemon } from './support/daemon';
import { within } from './support/wait';
import { TestClient } from './support/ws-client';

// The bin tests run the compiled CLI (`npm test` builds dist/ first), so the
// shebang entry, process.exit codes and the real SIGINT handler are covered.
const BIN = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const RUN_MS = 15_000;
const ESC = '\x1b';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function waitFor(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** runCli with captured output; the env is exactly what is given, never the runner's. */
async function cli(argv: string[], env: NodeJS.ProcessEnv, io: Partial<CliIo> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await within(
    runCli(argv, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env,
      ...io,
    }),
    RUN_MS,
    `exai ${argv.join(' ')}`,
  );
  return { code, stdout, stderr };
}

interface BinRun {
  exited: Promise<Run>;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

/** `node dist/cli/main.js`, with the runner's EXAI_* variables removed. */
function bin(argv: string[], env: Record<string, string>): BinRun {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EXAI_')) childEnv[k] = v;
  Object.assign(childEnv, env);
  const proc = spawn(process.execPath, [BIN, ...argv], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = within(
    new Promise<Run>((res) => proc.once('close', (code) => res({ code: code ?? -1, stdout, stderr }))),
    RUN_MS,
    `node ${BIN} ${argv.join(' ')}`,
  ).catch((err: Error) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return { exited, stderr: () => stderr, kill: (signal) => proc.kill(signal) };
}

/** A port nothing listens on: bound by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * A TCP relay to the daemon that holds back each connection whose first bytes
 * are a /metrics request, as a busy or distant daemon would answer.
 */
async function slowMetricsProxy(port: string, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.once('data', (first: Buffer) => {
      const upstream = connect(Number(port), '127.0.0.1');
      sockets.add(upstream);
      const relay = () => {
        upstream.write(first);
        client.pipe(upstream).pipe(client);
      };
      if (first.toString('latin1').startsWith('GET /metrics')) setTimeout(relay, delayMs);
      else relay();
      upstream.on('error', () => client.destroy()).on('close', () => sockets.delete(upstream));
    });
    client.on('error', () => undefined).on('close', () => sockets.delete(client));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: own } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${own}/`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const runs = (daemon: TestDaemon, tool: string) => daemon.probe.runs.get(tool) ?? 0;

describe('exai CLI', () => {
  let daemon: TestDaemon;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'simulated',
      // Explicit capacities, so the rendered numbers do not depend on the profile default.
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '6',
      EXAI_WS_GLM_MAX_INFLIGHT: '3',
      EXAI_WS_KIMI_MAX_INFLIGHT: '4',
      EXAI_WS_SESSION_MAX_INFLIGHT: '5',
    });
    env = { EXAI_WS_URL: daemon.url };
  });

  afterAll(async () => {
    await daemon?.close();
  });

  describe('tools', () => {
    it('lists each tool with the first line of its description', async () => {
      const run = await cli(['tools'], env);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^test_echo +Echoes its arguments after an optional delay\.$/m);
      expect(run.stdout).toMatch(/^chat +General chat/m);
    });

    it('prints the raw listing with --json', async () => {
      const run = await cli(['tools', '--json'], env);
      expect(run.code).toBe(0);
      const listing = JSON.parse(run.stdout) as Array<{ name: string; inputSchema: { required?: string[] } }>;
      expect(listing.find((t) => t.name === 'test_echo')?.inputSchema.required).toEqual(['text']);
    });
  });

  describe('call', () => {
    it('prints the content for --arg, parsing JSON values, with plain progress lines on a non-TTY stderr', async () => {
      const run = await cli(['call', 'test_echo', '--arg', 'text=hello world', '--arg', 'delay_ms=30'], env);
      expect(run).toMatchObject({ code: 0, stdout: 'hello world\n' });
      // delay_ms reached the tool as an integer, or the schema would have refused it.
      expect(run.stderr).toMatch(/^\[\d+\.\ds\] sleeping 30ms$/m);
      expect(run.stderr).not.toContain(ESC);
      expect(run.stderr).not.toContain('\r');
    });

    it('flags an answer served from the result cache on stderr, leaving stdout the answer alone', async () => {
      // One session across both runs: the cache is per session by default.
      const sessionEnv = { ...env, EXAI_SESSION_ID: 'cli-cache' };
      const first = await cli(['call', 'test_echo', '--arg', 'text=cache me'], sessionEnv);
      const second = await cli(['call', 'test_echo', '--arg', 'text=cache me'], sessionEnv);
      expect(first).toMatchObject({ code: 0, stdout: 'cache me\n' });
      expect(first.stderr).not.toContain('from_cache');
      expect(second).toMatchObject({ code: 0, stdout: 'cache me\n' });
      expect(second.stderr).toContain('[from_cache] Served from the EXAI result cache');
    });

    it('converts --arg values by the tool schema: text=123 reaches the tool as the string "123"', async () => {
      const run = await cli(['call', 'test_echo', '--arg', 'text=123', '--arg', 'delay_ms=5'], env);
      // Parsed as JSON, 123 would be a number and the daemon would refuse it as INVALID_ARGUMENTS.
      expect(run).toMatchObject({ code: 0, stdout: '123\n' });
      const bad = await cli(['call', 'test_echo', '--arg', 'text=x', '--arg', 'delay_ms=soon'], env);
      expect(bad.code).toBe(EXIT_CODES.USAGE);
      expect(bad.stderr).toMatch(/delay_ms must be a whole number, got "soon"/);
    });

    it("shows a tool's parameters from its schema with call <tool> --help", async () => {
      const run = await cli(['call', 'test_echo', '--help'], env);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^Usage: exai call test_echo /);
      expect(run.stdout).toMatch(/^ {2}text +string, required/m);
      expect(run.stdout).toMatch(/^ {2}delay_ms +integer, optional/m);
      const unknown = await cli(['call', 'no_such_tool', '--help'], env);
      expect(unknown.code).toBe(EXIT_CODES.USAGE);
      expect(unknown.stderr).toMatch(/no tool "no_such_tool"/);
    });

    it('takes the whole arguments object from --json', async () => {
      const run = await cli(['call', 'test_echo', '--json', '{"text":"from json"}'], env);
      expect(run).toMatchObject({ code: 0, stdout: 'from json\n' });
    });

    it('prints the full ToolOutput with --raw', async () => {
      const run = await cli(['call', 'test_echo', '-a', 'text=raw please', '--raw'], env);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: 'success', content: 'raw please' });
    });

    it('calls chat against the embedded simulator', async () => {
      const run = await cli(['call', 'chat', '--arg', 'prompt=What is 2+2?'], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('What is 2+2?');
    });

    it('draws a spinner only when stderr is a terminal', async () => {
      const run = await cli(['call', 'test_echo', '--arg', 'text=tty', '--arg', 'delay_ms=250'], env, {
        isTTY: { stderr: true, stdout: false },
      });
      expect(run).toMatchObject({ code: 0, stdout: 'tty\n' });
      const redraws = run.stderr.split(`\r${ESC}[K`).filter(Boolean);
      expect(redraws.some((line) => /^. test_echo \d+\.\ds {2}sleeping 250ms$/.test(line))).toBe(true);
      // The spinner line is cleared before the command ends.
      expect(run.stderr.endsWith(`\r${ESC}[K`)).toBe(true);
    });

    it('exits 1 with the EXEC_ERROR when the tool fails', async () => {
      const run = await cli(['call', 'test_fail', '--arg', 'message=kaput'], env);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: EXEC_ERROR: .*kaput/m);
    });

    it('exits 1 with TOOL_NOT_FOUND for an unknown tool', async () => {
      const run = await cli(['call', 'no_such_tool'], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('error: TOOL_NOT_FOUND: Unknown tool: no_such_tool');
    });

    it('exits 1 with INVALID_ARGUMENTS when the schema refuses the arguments', async () => {
      const run = await cli(['call', 'test_echo', '--arg', 'delay_ms=5'], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: INVALID_ARGUMENTS: /m);
    });

    it('exits 2 on invalid --json before it tries to connect', async () => {
      const run = await cli(['call', 'test_echo', '--json', '{text:'], {
        EXAI_WS_URL: `ws://127.0.0.1:${await closedPort()}/`,
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^error: USAGE: --json is not valid JSON/m);
      expect(run.stderr).toContain('exai call --help');
    });

    it('exits 2 on a non-object --json, a malformed --arg, a missing tool and an unknown flag', async () => {
      for (const argv of [
        ['call', 'test_echo', '--json', '[1,2]'],
        ['call', 'test_echo', '--arg', 'novalue'],
        ['call'],
        ['call', 'test_echo', '--frobnicate'],
      ]) {
        const run = await cli(argv, env);
        expect({ argv, code: run.code }).toEqual({ argv, code: 2 });
        expect(run.stderr).toMatch(/^error: USAGE: /m);
      }
    });

    it('cancels the call on the daemon when interrupted and exits 130', async () => {
      const interrupt = new AbortController();
      const before = runs(daemon, 'test_gate');
      const aborted = daemon.probe.aborted.length;
      const running = cli(['call', 'test_gate', '--arg', 'gate=never-opened'], env, { interrupt: interrupt.signal });
      await waitFor(() => runs(daemon, 'test_gate') > before, 'test_gate to start');
      interrupt.abort();
      const run = await running;
      expect(run.code).toBe(130);
      expect(run.stderr).toMatch(/^error: CANCELLED: /m);
      expect(daemon.probe.aborted.length).toBe(aborted + 1);
    });
  });

  describe('health', () => {
    it('renders limits, providers, routing and the last audit as a table', async () => {
      const run = await cli(['health'], env);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^Status +ok/m);
      expect(run.stdout).toMatch(/^Gateway +up +connections \d+, sessions \d+/m);
      for (const [limit, capacity] of [
        ['global', 6],
        ['GLM', 3],
        ['KIMI', 4],
        ['session', 5],
      ] as const) {
        expect(run.stdout).toMatch(new RegExp(`^  ${limit} +\\d+ +${capacity}\\b`, 'm'));
      }
      expect(run.stdout).toMatch(/^ {2}GLM +simulated +yes +closed/m);
      expect(run.stdout).toMatch(/^ {2}KIMI +simulated +yes +closed/m);
      expect(run.stdout).toMatch(/^Routing +up +hit ratio [\d.]+%/m);
      expect(run.stdout).toMatch(/^Last audit +\S+ \(\d+[smh].* ago\)$/m);
    });

    it('prints the raw snapshot with --json', async () => {
      const run = await cli(['health', '--json'], env);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({
        status: 'ok',
        concurrency: { capacity: { global: 6, GLM: 3, KIMI: 4, session: 5 } },
        providers: { mode: 'simulated' },
      });
    });
  });

  describe('watch', () => {
    it('--once renders bars against capacity, the queue, circuits and recent calls', async () => {
      await cli(['call', 'test_echo', '--arg', 'text=for the counters'], env);
      const holder = await TestClient.ready(daemon.url);
      try {
        holder.send({ op: 'call_tool', request_id: 'watch-hold', name: 'test_gate', arguments: { gate: 'watch' } });
        await holder.next((f) => f.op === 'call_tool_ack');
        const run = await cli(['watch', '--once'], env);
        expect(run).toMatchObject({ code: 0, stderr: '' });
        expect(run.stdout).not.toContain(ESC);
        expect(run.stdout).toMatch(/^ {2}global +\[█{3}░{17}\] +1\/6$/m);
        expect(run.stdout).toMatch(/^ {2}GLM +\[░{20}\] +0\/3$/m);
        expect(run.stdout).toMatch(/^ {2}KIMI +\[░{20}\] +0\/4$/m);
        expect(run.stdout).toMatch(/^ {2}session +\[█{4}░{16}\] +1\/5/m);
        expect(run.stdout).toMatch(/^Queue +0 waiting$/m);
        expect(run.stdout).toMatch(/^ {2}GLM +closed$/m);
        expect(run.stdout).toMatch(/^ {2}test_echo +success +\d+/m);
      } finally {
        daemon.probe.open('watch');
        await holder.result('watch-hold').finally(() => holder.close());
      }
    });

    it('clears the screen only when stdout is a terminal, and restores the cursor', async () => {
      const run = await cli(['watch', '--once'], env, { isTTY: true });
      expect(run.code).toBe(0);
      expect(run.stdout.startsWith(`${ESC}[?25l${ESC}[H${ESC}[2J`)).toBe(true);
      expect(run.stdout.endsWith(`${ESC}[?25h`)).toBe(true);
    });

    it('redraws every interval and shows the change in call counts until interrupted', async () => {
      const interrupt = new AbortController();
      let stdout = '';
      const running = runCli(['watch', '--interval', '100'], {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: () => true },
        env,
        interrupt: interrupt.signal,
      });
      try {
        // A frame whose scrape has the counts, so the next one has something to compare with.
        await waitFor(() => /^ {2}test_echo +success +\d+/m.test(stdout), 'a frame with the call counts');
        await cli(['call', 'test_echo', '--arg', 'text=counted'], env);
        await waitFor(() => /^ {2}test_echo +success +\d+ +\+1$/m.test(stdout), 'a +1 change');
      } finally {
        // Also on failure: a watch left running keeps jest from exiting.
        interrupt.abort();
      }
      expect(await within(running, RUN_MS, 'watch to stop')).toBe(0);
    });

    it('shows the call counts when /metrics answers slower than a short interval', async () => {
      const proxy = await slowMetricsProxy(new URL(daemon.url).port, 400);
      const interrupt = new AbortController();
      let stdout = '';
      const running = runCli(['watch', '--interval', '100'], {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: () => true },
        env: { EXAI_WS_URL: proxy.url },
        interrupt: interrupt.signal,
      });
      try {
        await waitFor(() => /^ {2}test_echo +success +\d+/m.test(stdout), 'a frame with the call counts');
      } finally {
        interrupt.abort();
        await within(running, RUN_MS, 'watch to stop').finally(() => proxy.close());
      }
    });

    it('rejects a too short --interval as a usage error', async () => {
      const run = await cli(['watch', '--interval', '5'], env);
      expect(run.code).toBe(2);
    });
  });

  describe('usage', () => {
    it('prints usage with the exit codes on --help, and per command', async () => {
      const main = await cli(['--help'], {});
      expect(main.code).toBe(0);
      expect(main.stdout).toMatch(/^Exit codes:$/m);
      expect(main.stdout).toMatch(/^ {2}130 +cancelled/m);
      for (const command of ['tools', 'call', 'health', 'watch']) {
        const run = await cli([command, '--help'], {});
        expect(run.code).toBe(0);
        expect(run.stdout).toContain(`Usage: exai ${command}`);
      }
    });

    it('prints usage on stderr and exits 2 for an unknown command', async () => {
      const run = await cli(['frobnicate'], env);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('Usage: exai <command>');
      expect(run.stderr).toContain('error: USAGE: unknown command "frobnicate"');
    });
  });

  describe('connection failures', () => {
    it('exits 3 when nothing listens, naming the variable', async () => {
      const run = await cli(['health'], { EXAI_WS_URL: `ws://127.0.0.1:${await closedPort()}/` });
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(
        /^error: CONNECT: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: connect ECONNREFUSED /m,
      );
      expect(run.stderr).toContain('EXAI_WS_URL');
    });

    it('exits 3 on a bad configuration, naming the variable', async () => {
      const run = await cli(['tools'], { EXAI_WS_PORT: 'eighty' });
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/^error: CONFIG: EXAI_WS_PORT="eighty" is not a port number$/m);
    });
  });

  describe('the built binary', () => {
    beforeAll(() => {
      if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "npx nest build" first`);
    });

    it('calls a tool and exits 0', async () => {
      const run = await bin(['call', 'test_echo', '--arg', 'text=hi'], { EXAI_WS_URL: daemon.url }).exited;
      expect(run).toMatchObject({ code: 0, stdout: 'hi\n' });
    });

    it('exits 3 when it cannot connect', async () => {
      const run = await bin(['tools'], { EXAI_WS_URL: `ws://127.0.0.1:${await closedPort()}/` }).exited;
      expect(run.code).toBe(3);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: CONNECT: /m);
    });

    it('cancels on SIGINT and exits 130', async () => {
      const before = runs(daemon, 'test_gate');
      const aborted = daemon.probe.aborted.length;
      const child = bin(['call', 'test_gate', '--arg', 'gate=sigint'], { EXAI_WS_URL: daemon.url });
      await waitFor(() => runs(daemon, 'test_gate') > before, 'test_gate to start', 10_000);
      child.kill('SIGINT');
      const run = await child.exited;
      expect(run.code).toBe(130);
      expect(run.stderr).toMatch(/^error: CANCELLED: /m);
      expect(daemon.probe.aborted.length).toBe(aborted + 1);
    });
  });
});

describe('exai CLI against a daemon with a token', () => {
  const TOKEN = 'correct-horse-battery-staple';
  let daemon: TestDaemon;

  beforeAll(async () => {
    daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated', EXAI_WS_TOKEN: TOKEN });
  });

  afterAll(async () => {
    await daemon?.close();
  });

  it('exits 3 on a wrong token, says unauthorized and prints neither token', async () => {
    const wrong = 'wrong-token-0123456789';
    const run = await cli(['call', 'test_echo', '--arg', 'text=x'], { EXAI_WS_URL: daemon.url, EXAI_WS_TOKEN: wrong });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: UNAUTHORIZED: .*unauthorized/m);
    expect(run.stderr).toContain('EXAI_WS_TOKEN');
    for (const out of [run.stdout, run.stderr]) {
      expect(out).not.toContain(wrong);
      expect(out).not.toContain(TOKEN);
    }
  });

  it('works with the right token', async () => {
    const run = await cli(['call', 'test_echo', '--arg', 'text=authorised'], {
      EXAI_WS_URL: daemon.url,
      EXAI_WS_TOKEN: TOKEN,
    });
    expect(run).toMatchObject({ code: 0, stdout: 'authorised\n' });
  });
});

describe('exai CLI when the session is at capacity', () => {
  const SESSION = 'cli-capacity';
  let daemon: TestDaemon;

  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'simulated',
      EXAI_WS_SESSION_MAX_INFLIGHT: '1',
      EXAI_WS_QUEUE_TIMEOUT_SECS: '0',
    });
  });

  afterAll(async () => {
    await daemon?.close();
  });

  it('exits 4 with OVER_CAPACITY and the retry hint', async () => {
    const holder = await TestClient.ready(daemon.url, { session_id: SESSION });
    try {
      holder.send({ op: 'call_tool', request_id: 'hold', name: 'test_gate', arguments: { gate: 'capacity' } });
      await holder.next((f) => f.op === 'call_tool_ack' && f.request_id === 'hold');
      const run = await cli(['call', 'test_echo', '--arg', 'text=blocked'], {
        EXAI_WS_URL: daemon.url,
        EXAI_SESSION_ID: SESSION,
      });
      expect(run.code).toBe(4);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: OVER_CAPACITY: Session concurrency limit reached/m);
      expect(run.stderr).toMatch(/^retry after \d+ s$/m);
    } finally {
      daemon.probe.open('capacity');
      await holder.result('hold').finally(() => holder.close());
    }
  });
});

describe('exai watch against a daemon bound off loopback with a token', () => {
  it('sends the token to /metrics and shows cached calls as their own outcome', async () => {
    // Configured as exposed on every interface; the test harness still binds 127.0.0.1.
    const daemon = await startTestDaemon({ EXAI_WS_HOST: '0.0.0.0', EXAI_WS_TOKEN: 'watch-token' });
    try {
      const env = { EXAI_WS_URL: daemon.url, EXAI_WS_TOKEN: 'watch-token', EXAI_SESSION_ID: 'watcher' };
      for (let i = 0; i < 2; i++) expect((await cli(['call', 'test_echo', '--arg', 'text=twice'], env)).code).toBe(0);
      const run = await cli(['watch', '--once'], env);
      expect(run.code).toBe(0);
      expect(run.stdout).not.toContain('unavailable');
      expect(run.stdout).toMatch(/^ {2}test_echo +cached +1$/m);
      expect(run.stdout).toMatch(/^ {2}test_echo +success +1$/m);
    } finally {
      await daemon.close();
    }
  });
});
