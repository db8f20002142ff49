import { readPackageInfo } from '../common/package-info';
import { readClientConfig, type ClientConfig } from '../client/client.config';
import { ExaiClient, FROM_CACHE_NOTE, type ProgressInfo, type ToolInfo } from '../client/exai-client';
import { buildCallArguments, isPlainObject, parseCommand, parseInterval, type SchemaProperties } from './cli.args';
import { CliError, CliUsageError, EXIT_CODES, toCliError, type ExitCode } from './cli.errors';
import { fetchCallCounts, metricsUrl, type CallCount } from './cli.metrics';
import {
  ANSI,
  callKey,
  progressText,
  renderHealth,
  renderToolHelp,
  renderTools,
  renderWatch,
  spinnerLine,
} from './cli.render';
import { MAIN_USAGE, commandUsage, type CommandName } from './cli.usage';

export interface CliOutput {
  write(chunk: string): unknown;
}

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
  env: NodeJS.ProcessEnv;
  /** Terminal or not, for both streams or each; default false (plain lines, no control characters). */
  isTTY?: boolean | { stdout?: boolean; stderr?: boolean };
  /** The terminal's width, for the spinner line. */
  columns?: number;
  /** Aborted on Ctrl-C: a running call is cancelled on the daemon, `watch` stops. */
  interrupt?: AbortSignal;
}

const CONNECT_TIMEOUT_MS = 5000;
const HEALTH_TIMEOUT_MS = 5000;
/** After Ctrl-C, how long to wait for the daemon's CANCELLED reply before exiting anyway. */
const CANCEL_GRACE_MS = 2000;
const SPINNER_TICK_MS = 100;
const DEFAULT_WATCH_INTERVAL_MS = 1000;

type Command = (argv: string[], io: CliIo) => Promise<ExitCode>;

const COMMANDS: Record<CommandName, Command> = { tools, call, health, watch };

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

/**
 * Runs `exai` with the given arguments (without `node` and the script path).
 * Never throws and never exits the process: every failure is printed as
 * `error: CODE: message` on stderr and mapped to an exit code.
 * @returns the exit code (see EXIT_CODES)
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    const error =
      err instanceof CliError
        ? err
        : new CliError('INTERNAL', (err as Error)?.message ?? String(err), EXIT_CODES.CALL_FAILED);
    io.stderr.write(`error: ${error.code}: ${error.message}\n`);
    if (error.hint) io.stderr.write(`${error.hint}\n`);
    return error.exitCode;
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(MAIN_USAGE);
    return EXIT_CODES.USAGE;
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(MAIN_USAGE);
    return EXIT_CODES.OK;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`exai ${readPackageInfo().version}\n`);
    return EXIT_CODES.OK;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) io.stdout.write(MAIN_USAGE);
    else if (isCommand(topic)) io.stdout.write(commandUsage(topic));
    else throw new CliUsageError(`unknown command "${topic}"`);
    return EXIT_CODES.OK;
  }
  if (!isCommand(first)) {
    io.stderr.write(MAIN_USAGE + '\n');
    throw new CliUsageError(first.startsWith('-') ? `unknown option "${first}"` : `unknown command "${first}"`);
  }
  return COMMANDS[first](rest, io);
}

async function tools(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommand('tools', argv, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help(io, 'tools');
  noPositionals('tools', positionals);
  const listing = await withClient(io, (client) => interruptible(client.listTools(), io));
  io.stdout.write(values.json ? `${JSON.stringify(listing, null, 2)}\n` : renderTools(listing));
  return EXIT_CODES.OK;
}

async function health(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommand('health', argv, {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help(io, 'health');
  noPositionals('health', positionals);
  const snapshot = await withClient(io, (client) => interruptible(client.health(), io));
  io.stdout.write(values.json ? `${JSON.stringify(snapshot, null, 2)}\n` : renderHealth(snapshot));
  return EXIT_CODES.OK;
}

async function call(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommand('call', argv, {
    arg: { type: 'string', short: 'a', multiple: true },
    json: { type: 'string', short: 'j' },
    raw: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const [tool, ...extra] = positionals;
  if (values.help && !tool) return help(io, 'call');
  if (!tool) throw new CliUsageError('missing the tool name: exai call <tool>', 'call');
  noPositionals('call', extra);
  // Checked before connecting: a malformed --json or --arg needs no daemon.
  buildCallArguments(values.json, values.arg ?? []);

  if (values.help) {
    const info = await withClient(io, async (client) => findTool(await client.listTools(), tool));
    if (!info) throw new CliUsageError(`the daemon has no tool "${tool}"; \`exai tools\` lists them`, 'call');
    io.stdout.write(renderToolHelp(info));
    return EXIT_CODES.OK;
  }

  const result = await withClient(io, async (client) => {
    // The tool's schema types each --arg; a tool the daemon does not know is
    // still sent, so the daemon answers TOOL_NOT_FOUND in its own words.
    const schema = findTool(await client.listTools(), tool)?.inputSchema;
    const args = buildCallArguments(values.json, values.arg ?? [], schemaProperties(schema));
    const progress = new ProgressReporter(io.stderr, isTTY(io, 'stderr'), tool, io.columns);
    try {
      const running = client.callTool(tool, args, { signal: io.interrupt, onProgress: (p) => progress.update(p) });
      return await untilCancelConfirmed(running, io.interrupt);
    } finally {
      progress.stop();
    }
  });
  const output = values.raw ? result.text : result.content;
  io.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
  // On stderr, so a script reading stdout gets the answer alone.
  if (result.fromCache) io.stderr.write(`${FROM_CACHE_NOTE}\n`);
  return EXIT_CODES.OK;
}

async function watch(argv: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseCommand('watch', argv, {
    interval: { type: 'string' },
    once: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return help(io, 'watch');
  noPositionals('watch', positionals);
  const intervalMs = parseInterval(values.interval, DEFAULT_WATCH_INTERVAL_MS);
  const tty = isTTY(io, 'stdout');

  return withClient(io, async (client, config) => {
    const scrapeUrl = metricsUrl(config.url);
    let previous: Map<string, number> | undefined;
    if (tty) io.stdout.write(ANSI.hideCursor);
    try {
      for (let frame = 0; ; frame++) {
        const [snapshot, calls] = await Promise.all([
          healthOrError(client),
          // The frame waits for health anyway, so a scrape slower than a short
          // interval costs nothing; bounding it by the interval lost the counts.
          fetchCallCounts(scrapeUrl, HEALTH_TIMEOUT_MS, config.token),
        ]);
        const text = renderWatch({ url: config.url, now: Date.now(), intervalMs, health: snapshot, calls, previous });
        io.stdout.write((tty ? ANSI.clearScreen : frame > 0 ? '\n' : '') + text);
        if (Array.isArray(calls)) previous = countsByKey(calls);
        if (values.once) return snapshot.ok ? EXIT_CODES.OK : EXIT_CODES.NO_CONNECTION;
        // Ctrl-C is how a watch ends, so it is a normal exit.
        if (await sleepUnlessInterrupted(intervalMs, io.interrupt)) return EXIT_CODES.OK;
      }
    } finally {
      if (tty) io.stdout.write(ANSI.showCursor);
    }
  });
}

/** By name, or by the legacy `<name>_EXAI-WS` alias the daemon also accepts. */
function findTool(tools: ToolInfo[], name: string): ToolInfo | undefined {
  return tools.find((t) => t.name === name) ?? tools.find((t) => `${t.name}_EXAI-WS` === name);
}

function schemaProperties(schema: Record<string, unknown> | undefined): SchemaProperties {
  const props = schema?.properties;
  return isPlainObject(props) ? (props as SchemaProperties) : {};
}

function help(io: CliIo, command: CommandName): ExitCode {
  io.stdout.write(commandUsage(command));
  return EXIT_CODES.OK;
}

function noPositionals(command: CommandName, positionals: string[]): void {
  if (positionals.length) throw new CliUsageError(`unexpected argument "${positionals[0]}"`, command);
}

function isTTY(io: CliIo, stream: 'stdout' | 'stderr'): boolean {
  return typeof io.isTTY === 'object' ? io.isTTY[stream] === true : io.isTTY === true;
}

/**
 * Reads the config, connects (bounded: a socket that never acks must not hang
 * the CLI), runs `fn`, and always closes the client. Connection and call
 * failures leave here as CliErrors.
 */
async function withClient<T>(io: CliIo, fn: (client: ExaiClient, config: ClientConfig) => Promise<T>): Promise<T> {
  let config: ClientConfig;
  try {
    config = readClientConfig(io.env);
  } catch (err) {
    throw toCliError(err, '', io.env);
  }
  const client = new ExaiClient({
    url: config.url,
    token: config.token,
    sessionId: config.sessionId,
    reconnect: false,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
  });
  try {
    await withTimeout(
      interruptible(client.connect(), io),
      CONNECT_TIMEOUT_MS,
      () =>
        new CliError(
          'CONNECT',
          `no answer to the hello from ${config.url} within ${CONNECT_TIMEOUT_MS} ms`,
          EXIT_CODES.NO_CONNECTION,
        ),
    );
    return await fn(client, config);
  } catch (err) {
    throw toCliError(err, config.url, io.env);
  } finally {
    client.close();
  }
}

function cancelledError(message: string): CliError {
  return new CliError('CANCELLED', message, EXIT_CODES.CANCELLED);
}

/** For the commands without a daemon-side cancel: Ctrl-C just stops waiting. */
function interruptible<T>(work: Promise<T>, io: CliIo): Promise<T> {
  const signal = io.interrupt;
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(cancelledError('interrupted'));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(cancelledError('interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort!));
}

/**
 * The client sends the daemon a cancel when `signal` aborts and the call then
 * ends with CANCELLED; this bounds the wait for that reply.
 */
function untilCancelConfirmed<T>(running: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return running;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(
        () => reject(cancelledError(`the daemon did not confirm the cancel within ${CANCEL_GRACE_MS / 1000} s`)),
        CANCEL_GRACE_MS,
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([running, gaveUp]).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort!);
  });
}

function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves true when interrupted, false when the time passed. */
function sleepUnlessInterrupted(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function healthOrError(
  client: ExaiClient,
): Promise<{ ok: true; snapshot: Record<string, unknown> } | { ok: false; error: string }> {
  try {
    const snapshot = await withTimeout(
      client.health(),
      HEALTH_TIMEOUT_MS,
      () => new Error(`no health reply within ${HEALTH_TIMEOUT_MS} ms`),
    );
    return { ok: true, snapshot };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function countsByKey(calls: CallCount[]): Map<string, number> {
  return new Map(calls.map((c) => [callKey(c), c.count]));
}

/**
 * Progress on stderr: a spinner with elapsed seconds and the latest note on a
 * terminal; one plain line per note or message otherwise, so logs and pipes
 * get no control characters.
 */
class ProgressReporter {
  private readonly started = Date.now();
  private latest: string | undefined;
  private tick = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: CliOutput,
    private readonly tty: boolean,
    private readonly tool: string,
    private readonly columns: number | undefined,
  ) {
    if (tty) {
      this.timer = setInterval(() => this.draw(), SPINNER_TICK_MS);
      this.draw();
    }
  }

  update(p: ProgressInfo): void {
    const text = progressText(p);
    if (text === undefined) return;
    this.latest = text;
    if (this.tty) this.draw();
    else this.out.write(`[${this.elapsed()}s] ${text}\n`);
  }

  stop(): void {
    if (!this.tty) return;
    clearInterval(this.timer);
    this.out.write(ANSI.clearLine);
  }

  private draw(): void {
    this.out.write(spinnerLine(this.tick++, this.tool, Date.now() - this.started, this.latest, this.columns));
  }

  private elapsed(): string {
    return ((Date.now() - this.started) / 1000).toFixed(1);
  }
}
