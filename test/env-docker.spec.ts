import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_CLASSES } from '../src/app-config.module';
import { validateAll } from '../src/config/validate-config';
import { parseEnvFile } from './support/env-file';

const ENV_FILE = join(__dirname, '..', '.env.docker');

/**
 * Every variable a config class reads. Optional properties without an initializer
 * (`GLM_API_KEY?: string`) are absent from Object.keys, so the validation metadata
 * supplies them.
 */
function envKeysOf(cls: new () => object): string[] {
  const decorated = getMetadataStorage()
    .getTargetValidationMetadatas(cls, '', true, false)
    .map((m) => m.propertyName);
  return [...Object.keys(new cls()), ...decorated];
}

describe('.env.docker', () => {
  const entries = parseEnvFile(readFileSync(ENV_FILE, 'utf8'));
  const fileKeys = new Set(entries.map((e) => e.key));
  const configKeys = new Set(ENV_CLASSES.flatMap(envKeysOf));

  it('lists exactly the variables the config classes read', () => {
    const missing = [...configKeys].filter((k) => !fileKeys.has(k)).sort();
    const extra = [...fileKeys].filter((k) => !configKeys.has(k)).sort();
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
  });

  it('lists each variable once', () => {
    const seen = new Map<string, number>();
    const duplicates = entries.flatMap((e) => {
      const first = seen.get(e.key);
      seen.set(e.key, first ?? e.line);
      return first === undefined ? [] : [`${e.key} (lines ${first} and ${e.line})`];
    });
    expect(duplicates).toEqual([]);
  });

  it('uses plain KEY=value lines that docker passes through verbatim', () => {
    const bad = entries
      .filter((e) => !/^[A-Z][A-Z0-9_]*$/.test(e.key) || /^["']|\s#|\s$/.test(e.value))
      .map((e) => `line ${e.line}: ${e.key}=${e.value}`);
    expect(bad).toEqual([]);
  });

  it('passes boot validation as written', () => {
    const env = Object.fromEntries(entries.map((e) => [e.key, e.value]));
    expect(() => validateAll(ENV_CLASSES, env)).not.toThrow();
  });
});
