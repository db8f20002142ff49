import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, Matches, Min } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

export const CONCURRENCY_PROFILES = {
  dev: { global: 5, session: 2, GLM: 2, KIMI: 3 },
  prod: { global: 24, session: 8, GLM: 4, KIMI: 6 },
} as const;
export type ConcurrencyProfile = keyof typeof CONCURRENCY_PROFILES;

export class ConcurrencyEnv {
  @IsIn(Object.keys(CONCURRENCY_PROFILES))
  EXAI_CONCURRENCY_PROFILE: string = 'dev';

  @EnvInt()
  @IsOptional()
  @IsInt()
  @Min(1)
  EXAI_WS_GLOBAL_MAX_INFLIGHT?: number;

  @EnvInt()
  @IsOptional()
  @IsInt()
  @Min(1)
  EXAI_WS_SESSION_MAX_INFLIGHT?: number;

  @EnvInt()
  @IsOptional()
  @IsInt()
  @Min(1)
  EXAI_WS_GLM_MAX_INFLIGHT?: number;

  @EnvInt()
  @IsOptional()
  @IsInt()
  @Min(1)
  EXAI_WS_KIMI_MAX_INFLIGHT?: number;

  @EnvInt()
  @IsInt()
  @Min(0)
  EXAI_WS_QUEUE_TIMEOUT_SECS = 30;

  @EnvInt()
  @IsInt()
  @Min(0)
  EXAI_WS_MAX_QUEUE = 1000;

  @EnvInt()
  @IsInt()
  @Min(0)
  EXAI_LEASE_GRACE_SECS = 5;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_LEAK_AUDIT_INTERVAL_SECS = 60;

  @IsIn(['memory', 'redis'])
  EXAI_CONCURRENCY_BACKEND: string = 'memory';

  @IsString()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL = 'redis://127.0.0.1:6379';

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_LEASE_TTL_SECS = 30;

  @IsIn(['closed', 'local'])
  EXAI_REDIS_FAILURE_MODE: string = 'closed';
}

const PROVIDER_LIMIT_VAR = /^EXAI_WS_([A-Z0-9]+)_MAX_INFLIGHT$/;
const NAMED_LIMITS = new Set(['GLOBAL', 'SESSION', 'GLM', 'KIMI']);

/**
 * Limits of providers added by extension modules: `EXAI_WS_<ID>_MAX_INFLIGHT`.
 * Returns the parsed limits and a problem line for each bad value.
 */
export function extraProviderLimits(source: Record<string, string | undefined>): {
  limits: Record<string, number>;
  problems: string[];
} {
  const limits: Record<string, number> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    const match = PROVIDER_LIMIT_VAR.exec(key);
    if (!match || NAMED_LIMITS.has(match[1]) || value === undefined || value === '') continue;
    if (/^\d+$/.test(value.trim()) && Number(value) >= 1) limits[match[1]] = Number(value);
    else problems.push(`${key}=${JSON.stringify(value)}: ${key} must be an integer of at least 1`);
  }
  return { limits, problems };
}

export interface ConcurrencyConfig {
  profile: ConcurrencyProfile;
  limits: { global: number; session: number; providers: Record<string, number> };
  queueTimeoutMs: number;
  maxQueue: number;
  leaseGraceMs: number;
  leakAuditIntervalSecs: number;
  backend: 'memory' | 'redis';
  redisUrl: string;
  leaseTtlMs: number;
  redisFailureMode: 'closed' | 'local';
}

export function toConcurrencyConfig(
  env: ConcurrencyEnv,
  source: Record<string, string | undefined> = {},
): ConcurrencyConfig {
  const profile = env.EXAI_CONCURRENCY_PROFILE as ConcurrencyProfile;
  const base = CONCURRENCY_PROFILES[profile];
  return {
    profile,
    limits: {
      global: env.EXAI_WS_GLOBAL_MAX_INFLIGHT ?? base.global,
      session: env.EXAI_WS_SESSION_MAX_INFLIGHT ?? base.session,
      providers: {
        ...extraProviderLimits(source).limits,
        GLM: env.EXAI_WS_GLM_MAX_INFLIGHT ?? base.GLM,
        KIMI: env.EXAI_WS_KIMI_MAX_INFLIGHT ?? base.KIMI,
      },
    },
    queueTimeoutMs: env.EXAI_WS_QUEUE_TIMEOUT_SECS * 1000,
    maxQueue: env.EXAI_WS_MAX_QUEUE,
    leaseGraceMs: env.EXAI_LEASE_GRACE_SECS * 1000,
    leakAuditIntervalSecs: env.EXAI_LEAK_AUDIT_INTERVAL_SECS,
    backend: env.EXAI_CONCURRENCY_BACKEND as 'memory' | 'redis',
    redisUrl: env.REDIS_URL,
    leaseTtlMs: env.EXAI_LEASE_TTL_SECS * 1000,
    redisFailureMode: env.EXAI_REDIS_FAILURE_MODE as 'closed' | 'local',
  };
}

// process.env twice: the typed variables, and the EXAI_WS_<ID>_MAX_INFLIGHT
// limits of extension providers, which no class property can name.
export const concurrencyConfig = registerAs('concurrency', (): ConcurrencyConfig =>
  toConcurrencyConfig(parseEnv(ConcurrencyEnv, process.env), process.env),
);
