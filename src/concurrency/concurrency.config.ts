import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, Matches, Min } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { EnvSource, parseEnv } from '../config/validate-config';

/** Defaults per profile; `providers` are the built-in providers' limits, keyed by provider id. */
export const CONCURRENCY_PROFILES: Record<
  'dev' | 'prod',
  { global: number; session: number; providers: Readonly<Record<string, number>> }
> = {
  dev: { global: 5, session: 2, providers: { GLM: 2, KIMI: 3 } },
  prod: { global: 24, session: 8, providers: { GLM: 4, KIMI: 6 } },
};
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

  // The built-in providers' limits are declared so that they are documented and
  // typed; like any provider's, they are read by providerLimits() below.
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
const NOT_PROVIDERS = new Set(['GLOBAL', 'SESSION']);
/** Providers whose variable is a typed ConcurrencyEnv property, so that class reports a bad value. */
const DECLARED = new Set(Object.values(CONCURRENCY_PROFILES).flatMap((p) => Object.keys(p.providers)));

/**
 * Every provider's own limit, `EXAI_WS_<ID>_MAX_INFLIGHT`, keyed by provider
 * id: the built-in ones and those of providers added by extension modules,
 * which no class property can name. Returns a problem line for each bad
 * value of an undeclared one.
 */
export function providerLimits(source: EnvSource): { limits: Record<string, number>; problems: string[] } {
  const limits: Record<string, number> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    const match = PROVIDER_LIMIT_VAR.exec(key);
    if (!match || NOT_PROVIDERS.has(match[1]) || value === undefined || value.trim() === '') continue;
    if (/^\d+$/.test(value.trim()) && Number(value) >= 1) limits[match[1]] = Number(value);
    else if (!DECLARED.has(match[1]))
      problems.push(`${key}=${JSON.stringify(value)}: ${key} must be an integer of at least 1`);
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

/**
 * The concurrency settings from one environment. One source for the typed
 * variables and the per-provider limits alike, so no caller can pass the one
 * without the other (an extension provider's limit was once dropped that way).
 */
export function toConcurrencyConfig(source: EnvSource): ConcurrencyConfig {
  const env = parseEnv(ConcurrencyEnv, source);
  const profile = env.EXAI_CONCURRENCY_PROFILE as ConcurrencyProfile;
  const base = CONCURRENCY_PROFILES[profile];
  return {
    profile,
    limits: {
      global: env.EXAI_WS_GLOBAL_MAX_INFLIGHT ?? base.global,
      session: env.EXAI_WS_SESSION_MAX_INFLIGHT ?? base.session,
      providers: { ...base.providers, ...providerLimits(source).limits },
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

export const concurrencyConfig = registerAs('concurrency', (): ConcurrencyConfig => toConcurrencyConfig(process.env));
