import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

export class LoggingEnv {
  /** auto: pretty on a terminal, JSON otherwise (pipes, files, containers, log collectors). */
  @IsIn(['auto', 'json', 'pretty'])
  LOG_FORMAT: string = 'auto';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  /**
   * JSON lines are gathered and written at most this often (ms), or as soon
   * as 4 KiB are waiting; 0 writes each line as it comes. Lines still waiting
   * are written when the process exits, even on a crash, but not on SIGKILL.
   */
  @EnvInt() @IsInt() @Min(0) @Max(10_000) LOG_FLUSH_MS = 100;
}

export interface LoggingConfig {
  format: 'json' | 'pretty';
  level: string;
  flushMs: number;
}

export const loggingConfig = registerAs('logging', (): LoggingConfig => {
  const env = parseEnv(LoggingEnv, process.env);
  return {
    format: logFormat(env.LOG_FORMAT, process.stdout.isTTY === true),
    level: env.LOG_LEVEL,
    flushMs: env.LOG_FLUSH_MS,
  };
});

/** `auto` is pretty for a person at a terminal and JSON for everything that reads logs mechanically. */
export function logFormat(setting: string, stdoutIsTty: boolean): LoggingConfig['format'] {
  if (setting === 'json' || setting === 'pretty') return setting;
  return stdoutIsTty ? 'pretty' : 'json';
}
