import { registerAs } from '@nestjs/config';
import { IsIn, IsOptional } from 'class-validator';
import { toConcurrencyConfig } from '../concurrency/concurrency.config';
import { EnvSource, parseEnv } from '../config/validate-config';

export class StateEnv {
  /** Unset: the same store as EXAI_CONCURRENCY_BACKEND, so one switch moves a daemon to Redis. */
  @IsOptional()
  @IsIn(['memory', 'redis'])
  EXAI_STATE_BACKEND?: string;
}

export interface StateConfig {
  backend: 'memory' | 'redis';
  /** REDIS_URL: the limiter's Redis, so one Redis serves both. */
  redisUrl: string;
  /** EXAI_REDIS_FAILURE_MODE: the state store follows the limiter when Redis is unreachable. */
  failureMode: 'closed' | 'local';
}

export function toStateConfig(source: EnvSource): StateConfig {
  const env = parseEnv(StateEnv, source);
  const limiter = toConcurrencyConfig(source);
  return {
    backend: (env.EXAI_STATE_BACKEND as 'memory' | 'redis' | undefined) ?? limiter.backend,
    redisUrl: limiter.redisUrl,
    failureMode: limiter.redisFailureMode,
  };
}

export const stateConfig = registerAs('state', (): StateConfig => toStateConfig(process.env));
