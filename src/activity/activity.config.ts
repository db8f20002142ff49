import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

export class ActivityEnv {
  @EnvInt() @IsInt() @Min(10) @Max(100_000) EXAI_ACTIVITY_MAX_EVENTS = 1000;
  @EnvInt() @IsInt() @Min(4096) EXAI_ACTIVITY_MAX_BYTES = 512 * 1024;
  @IsIn(['session', 'global']) EXAI_ACTIVITY_SCOPE = 'session';
}

export interface ActivityConfig {
  maxEvents: number;
  maxBytes: number;
  /** `session`: a caller sees only its own session's calls; `global`: every session's. */
  scope: 'session' | 'global';
}

export function toActivityConfig(env: ActivityEnv): ActivityConfig {
  return {
    maxEvents: env.EXAI_ACTIVITY_MAX_EVENTS,
    maxBytes: env.EXAI_ACTIVITY_MAX_BYTES,
    scope: env.EXAI_ACTIVITY_SCOPE as ActivityConfig['scope'],
  };
}

export const activityConfig = registerAs('activity', (): ActivityConfig =>
  toActivityConfig(parseEnv(ActivityEnv, process.env)),
);
