import { registerAs } from '@nestjs/config';
import { IsIn, IsOptional } from 'class-validator';
import { ConcurrencyEnv } from '../concurrency/concurrency.config';
import { parseEnv } from '../config/validate-config';

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

export function toStateConfig(env: StateEnv, concurrency: ConcurrencyEnv): StateConfig {
  return {
    backend: (env.EXAI_STATE_BACKEND ?? concurrency.EXAI_CONCURRENCY_BACKEND) as 'memory' | 'redis',
    redisUrl: concurrency.REDIS_URL,
    failureMode: concurrency.EXAI_REDIS_FAILURE_MODE as 'closed' | 'local',
  };
}

export const stateConfig = registerAs('state', (): StateConfig =>
  toStateConfig(parseEnv(StateEnv, process.env), parseEnv(ConcurrencyEnv, process.env)),
);
