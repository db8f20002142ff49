import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsNumber, Max, Min } from 'class-validator';
import { EnvInt, EnvNumber } from '../../config/env.transforms';
import { parseEnv } from '../../config/validate-config';
import { CONCURRENCY_PROFILES } from '../concurrency.config';

export type ConcurrencyMode = 'static' | 'adaptive';
const MODES: readonly string[] = ['static', 'adaptive'];

export class AdaptiveConcurrencyEnv {
  @IsIn(MODES)
  EXAI_GLM_CONCURRENCY: string = 'static';

  @IsIn(MODES)
  EXAI_KIMI_CONCURRENCY: string = 'static';

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_GLM_MIN_INFLIGHT = 1;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_KIMI_MIN_INFLIGHT = 1;

  @EnvNumber()
  @IsNumber()
  @Min(0.1)
  @Max(0.95)
  EXAI_ADAPTIVE_BACKOFF = 0.7;

  @EnvNumber()
  @IsNumber()
  @Min(1.05)
  EXAI_ADAPTIVE_LATENCY_TOLERANCE = 1.5;

  @EnvInt()
  @IsInt()
  @Min(2)
  EXAI_ADAPTIVE_BASELINE_WINDOW_SECS = 60;

  @EnvInt()
  @IsInt()
  @Min(50)
  EXAI_ADAPTIVE_SYNC_MS = 1000;
}

const MODE_VAR = /^EXAI_([A-Z0-9]+)_CONCURRENCY$/;
const MIN_VAR = /^EXAI_([A-Z0-9]+)_MIN_INFLIGHT$/;
/** The built-in providers: their variables are typed AdaptiveConcurrencyEnv properties, which report bad values. */
const DECLARED = Object.keys(CONCURRENCY_PROFILES.dev.providers);

/**
 * Every provider's `EXAI_<ID>_CONCURRENCY` and `EXAI_<ID>_MIN_INFLIGHT`, keyed
 * by provider id: the built-in ones and those of providers added by
 * extension modules, which no class property can name. A problem line for
 * each bad value of an undeclared one.
 */
export function adaptiveSettings(source: Record<string, string | undefined>): {
  modes: Record<string, ConcurrencyMode>;
  mins: Record<string, number>;
  problems: string[];
} {
  const modes: Record<string, ConcurrencyMode> = {};
  const mins: Record<string, number> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined || value.trim() === '') continue;
    const mode = MODE_VAR.exec(key);
    if (mode) {
      if (MODES.includes(value.trim())) modes[mode[1]] = value.trim() as ConcurrencyMode;
      else if (!DECLARED.includes(mode[1]))
        problems.push(`${key}=${JSON.stringify(value)}: ${key} must be one of: static, adaptive`);
    }
    const min = MIN_VAR.exec(key);
    if (min) {
      if (/^\d+$/.test(value.trim()) && Number(value) >= 1) mins[min[1]] = Number(value);
      else if (!DECLARED.includes(min[1]))
        problems.push(`${key}=${JSON.stringify(value)}: ${key} must be an integer of at least 1`);
    }
  }
  return { modes, mins, problems };
}

export interface AdaptiveConcurrencyConfig {
  /** Provider id → mode; providers not listed are static. */
  modes: Record<string, ConcurrencyMode>;
  /** Provider id → floor of its adaptive limit. */
  mins: Record<string, number>;
  backoff: number;
  tolerance: number;
  /** How long a fastest first token stays the latency baseline. */
  baselineWindowMs: number;
  /** How often a shared (Redis) limit is re-read to see other daemons' changes. */
  syncMs: number;
}

/** From one environment, as toConcurrencyConfig: the typed and per-provider variables cannot come apart. */
export function toAdaptiveConfig(source: Record<string, string | undefined>): AdaptiveConcurrencyConfig {
  const env = parseEnv(AdaptiveConcurrencyEnv, source);
  const settings = adaptiveSettings(source);
  return {
    // The built-in providers are listed even when static, with the defaults of their typed variables.
    modes: { ...Object.fromEntries(DECLARED.map((id) => [id, 'static' as const])), ...settings.modes },
    mins: { ...Object.fromEntries(DECLARED.map((id) => [id, 1])), ...settings.mins },
    backoff: env.EXAI_ADAPTIVE_BACKOFF,
    tolerance: env.EXAI_ADAPTIVE_LATENCY_TOLERANCE,
    baselineWindowMs: env.EXAI_ADAPTIVE_BASELINE_WINDOW_SECS * 1000,
    syncMs: env.EXAI_ADAPTIVE_SYNC_MS,
  };
}

export const adaptiveConcurrencyConfig = registerAs('adaptiveConcurrency', (): AdaptiveConcurrencyConfig =>
  toAdaptiveConfig(process.env),
);
