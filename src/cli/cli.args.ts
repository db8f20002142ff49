import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliUsageError } from './cli.errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs` in strict mode, with its errors (unknown option, missing value)
 * turned into usage errors for the given command.
 * @throws CliUsageError
 */
export function parseCommand<const O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // Matched by code, not `instanceof TypeError`: the error comes from Node's realm, which under jest is not ours.
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new CliUsageError((err as Error).message, command);
    }
    throw err;
  }
}

/**
 * The arguments object of `exai call`: `--json` gives the base object, and each
 * `--arg key=value` sets one key on it (later ones win). A value that parses
 * as JSON is used as such (`n=3`, `flag=true`, `o={"a":1}`), anything else is
 * the literal string; quote it as JSON (`text="3"`) to force a string.
 * @throws CliUsageError on invalid JSON or a malformed --arg
 */
export function buildCallArguments(json: string | undefined, pairs: string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw new CliUsageError(`--json is not valid JSON: ${(err as Error).message}`, 'call');
    }
    if (!isPlainObject(parsed)) throw new CliUsageError('--json must be a JSON object, e.g. \'{"text":"hi"}\'', 'call');
    Object.assign(args, parsed);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliUsageError(`--arg "${pair}" must be key=value`, 'call');
    args[pair.slice(0, eq)] = parseArgValue(pair.slice(eq + 1));
  }
  return args;
}

export function parseArgValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * `--interval` in milliseconds; the floor keeps a typo like `--interval 1`
 * from hammering the daemon.
 * @throws CliUsageError
 */
export function parseInterval(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 100) {
    throw new CliUsageError(`--interval must be a whole number of milliseconds >= 100, got "${raw}"`, 'watch');
  }
  return Number(raw);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
