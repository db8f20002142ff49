import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';

export type EnvSource = Record<string, string | undefined>;
export type EnvClass<T extends object> = new () => T;

/** Raised at boot; its message names every bad key at once. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

function withoutEmpty(env: EnvSource): EnvSource {
  // An empty value (`KEY=` in an env file) means "use the default", so it must
  // not reach the number and boolean parsers as "".
  const out: EnvSource = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

// A value of the wrong type also fails its range checks; only the type
// problem is worth reporting then ("abc" is not "greater than 65535").
const TYPE_CONSTRAINTS = ['isInt', 'isNumber', 'isBoolean', 'isIn', 'isString', 'isUrl'];

/** Variables whose value is a secret as a whole: a boot error names them without showing the value. */
const SECRET_KEY = /(TOKEN|API_KEY|SECRET|PASSWORD)$/;

/**
 * The value as a boot error shows it. Boot errors go to stderr and from there
 * to log collectors, so a secret never appears in one: secret variables are
 * hidden, and a URL keeps its user name but not its password
 * (`redis://app:hunter2@redis:6379` → `redis://app:***@redis:6379`).
 */
export function shownValue(key: string, value: unknown): string {
  if (value === undefined) return 'unset';
  if (SECRET_KEY.test(key)) return '[redacted]';
  const json = JSON.stringify(value);
  return json.replace(/(\/\/[^/@\s:"]*:)[^/@\s"]*@/g, '$1***@').replace(/(\/\/)([^/@\s:"]+)@/g, '$1***@');
}

function describe(errors: ValidationError[]): string[] {
  return errors.map((e) => {
    const shown = shownValue(e.property, e.value);
    const constraints = e.constraints ?? {};
    const typeProblem = TYPE_CONSTRAINTS.find((c) => c in constraints);
    const why = typeProblem ? constraints[typeProblem] : Object.values(constraints).join('; ');
    return `${e.property}=${shown}: ${why}`;
  });
}

function check<T extends object>(cls: EnvClass<T>, env: EnvSource): { value: T; problems: string[] } {
  const value = plainToInstance(cls, withoutEmpty(env));
  const errors = validateSync(value, { forbidUnknownValues: false });
  return { value, problems: describe(errors) };
}

/** Parses one namespace's variables, throwing with every bad key of that namespace. */
export function parseEnv<T extends object>(cls: EnvClass<T>, env: EnvSource): T {
  const { value, problems } = check(cls, env);
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return value;
}

/**
 * Validates every namespace together so that one boot failure lists all bad
 * keys, not just the first namespace's.
 */
export function validateAll(
  classes: EnvClass<object>[],
  env: EnvSource,
  extraChecks: Array<(env: EnvSource) => string[]> = [],
): EnvSource {
  const problems = [...classes.flatMap((cls) => check(cls, env).problems), ...extraChecks.flatMap((c) => c(env))];
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return env;
}
