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

/** The JSON-schema `properties` of a tool's inputSchema, by name (what coercion reads). */
export type SchemaProperties = Record<string, { type?: unknown } & Record<string, unknown>>;

/**
 * The arguments object of `exai call`: `--json` gives the base object, and each
 * `--arg key=value` sets one key on it (later ones win). A key the tool's
 * schema types is converted to that type (`prompt=123` is the string "123",
 * `n=3` the number 3, `flag=true` a boolean; objects and arrays as JSON).
 * For an untyped key, a value that parses as JSON is used as such, anything
 * else is the literal string; quote it as JSON (`text="3"`) to force a string.
 * @throws CliUsageError on invalid JSON, a malformed --arg or a value that is not of its schema type
 */
export function buildCallArguments(
  json: string | undefined,
  pairs: string[],
  properties: SchemaProperties = {},
): Record<string, unknown> {
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
    const key = pair.slice(0, eq);
    args[key] = coerceArgValue(key, pair.slice(eq + 1), properties[key]?.type);
  }
  return args;
}

/**
 * `raw` as the schema's type says. A JSON string literal is accepted for a
 * string too, so `text="42"` keeps working; untyped and union-typed keys
 * fall back to parseArgValue.
 * @throws CliUsageError when the value cannot be that type
 */
export function coerceArgValue(key: string, raw: string, type: unknown): unknown {
  const bad = (what: string) => new CliUsageError(`--arg ${key} must be ${what}, got "${raw}"`, 'call');
  switch (type) {
    case 'string': {
      if (/^".*"$/s.test(raw)) {
        const parsed = parseArgValue(raw);
        if (typeof parsed === 'string') return parsed;
      }
      return raw;
    }
    case 'integer':
    case 'number': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) {
        throw bad(type === 'integer' ? 'a whole number' : 'a number');
      }
      return n;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw bad('true or false');
    case 'object':
    case 'array': {
      const parsed = parseArgValue(raw);
      const ok = type === 'array' ? Array.isArray(parsed) : isPlainObject(parsed);
      if (!ok) throw bad(type === 'array' ? 'a JSON array' : 'a JSON object');
      return parsed;
    }
    default:
      return parseArgValue(raw);
  }
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
