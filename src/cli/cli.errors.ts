import { ClientConfigError } from '../client/client.config';
import { ExaiCallError } from '../client/exai-client';

/** The `exai` exit codes; `--help` prints them from here, so they cannot drift. */
export const EXIT_CODES = {
  OK: 0,
  CALL_FAILED: 1,
  USAGE: 2,
  NO_CONNECTION: 3,
  OVER_CAPACITY: 4,
  CANCELLED: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export const EXIT_CODE_MEANINGS: ReadonlyArray<readonly [ExitCode, string]> = [
  [EXIT_CODES.OK, 'success'],
  [
    EXIT_CODES.CALL_FAILED,
    'the call failed: EXEC_ERROR, PROVIDER_ERROR, PROVIDER_UNAVAILABLE, TIMEOUT,\n       INVALID_ARGUMENTS, TOOL_NOT_FOUND or another tool/provider error',
  ],
  [EXIT_CODES.USAGE, 'usage error (unknown command, bad flags, invalid JSON)'],
  [EXIT_CODES.NO_CONNECTION, 'cannot connect, unauthorized, lost connection, or bad EXAI_* configuration'],
  [EXIT_CODES.OVER_CAPACITY, 'OVER_CAPACITY: a concurrency limit is full; retry after the printed delay'],
  [EXIT_CODES.CANCELLED, 'cancelled (Ctrl-C)'],
];

/** Every failure the CLI reports: printed as `error: CODE: message`, then the hint. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class CliUsageError extends CliError {
  constructor(message: string, command?: string) {
    super('USAGE', message, EXIT_CODES.USAGE, `Run "exai ${command ? `${command} ` : ''}--help" for usage.`);
    this.name = 'CliUsageError';
  }
}

/** Which variables chose the daemon address, so connection errors can name them. */
export function addressSource(env: NodeJS.ProcessEnv): string {
  return env.EXAI_WS_URL ? 'EXAI_WS_URL' : 'EXAI_WS_HOST/EXAI_WS_PORT (or EXAI_WS_URL)';
}

/**
 * Maps anything thrown while talking to the daemon to the exit code table.
 * @param url the daemon URL, for connection messages
 */
export function toCliError(err: unknown, url: string, env: NodeJS.ProcessEnv): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ClientConfigError) return new CliError('CONFIG', err.message, EXIT_CODES.NO_CONNECTION);
  if (err instanceof ExaiCallError) return fromCallError(err, url, env);
  return new CliError(
    'CONNECT',
    `cannot connect to ${displayUrl(url)}: ${socketErrorText(err)}`,
    EXIT_CODES.NO_CONNECTION,
    `Is the daemon running? The address comes from ${addressSource(env)}.`,
  );
}

function fromCallError(err: ExaiCallError, url: string, env: NodeJS.ProcessEnv): CliError {
  switch (err.code) {
    case 'HELLO_REFUSED':
      if (/unauthorized/.test(err.message)) {
        return new CliError(
          'UNAUTHORIZED',
          `the daemon at ${displayUrl(url)} refused the token (unauthorized)`,
          EXIT_CODES.NO_CONNECTION,
          env.EXAI_WS_TOKEN ? 'Check EXAI_WS_TOKEN.' : 'The daemon requires a token: set EXAI_WS_TOKEN.',
        );
      }
      return new CliError('CONNECT', err.message, EXIT_CODES.NO_CONNECTION);
    case 'DISCONNECTED':
      return new CliError('DISCONNECTED', err.message, EXIT_CODES.NO_CONNECTION);
    case 'OVER_CAPACITY': {
      const after = err.retryAfter;
      return new CliError(
        err.code,
        err.message,
        EXIT_CODES.OVER_CAPACITY,
        after === undefined ? 'retry later' : `retry after ${after} s`,
      );
    }
    case 'CANCELLED':
      return new CliError(err.code, err.message, EXIT_CODES.CANCELLED);
    default:
      return new CliError(err.code, err.message, EXIT_CODES.CALL_FAILED);
  }
}

/**
 * `ws` rejects with ECONNREFUSED and friends; on a host name with both IPv4 and
 * IPv6 addresses Node reports an AggregateError whose own message is empty.
 * Duck-typed, because Node's errors come from another realm under jest.
 */
function socketErrorText(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { message, code, errors } = err as { message?: unknown; code?: unknown; errors?: unknown };
  if (typeof message === 'string' && message) return message;
  if (Array.isArray(errors) && errors.length) return errors.map((e) => socketErrorText(e)).join('; ');
  return typeof code === 'string' ? code : 'connection failed';
}

/** A URL can carry credentials in its user-info; they never reach the terminal. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
