import { registerAs } from '@nestjs/config';
import { IsIn } from 'class-validator';
import { parseEnv } from '../config/validate-config';

export class LoggingEnv {
  /** auto: pretty on a terminal, JSON otherwise (pipes, files, containers, log collectors). */
  @IsIn(['auto', 'json', 'pretty'])
  LOG_FORMAT: string = 'auto';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';
}

export interface LoggingConfig {
  format: 'json' | 'pretty';
  level: string;
}

export const loggingConfig = registerAs('logging', (): LoggingConfig => {
  const env = parseEnv(LoggingEnv, process.env);
  return { format: logFormat(env.LOG_FORMAT, process.stdout.isTTY === true), level: env.LOG_LEVEL };
});

/** `auto` is pretty for a person at a terminal and JSON for everything that reads logs mechanically. */
export function logFormat(setting: string, stdoutIsTty: boolean): LoggingConfig['format'] {
  if (setting === 'json' || setting === 'pretty') return setting;
  return stdoutIsTty ? 'pretty' : 'json';
}
