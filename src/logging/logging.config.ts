import { registerAs } from '@nestjs/config';
import { IsIn } from 'class-validator';
import { parseEnv } from '../config/validate-config';

export class LoggingEnv {
  @IsIn(['json', 'pretty'])
  LOG_FORMAT: string = 'json';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';
}

export interface LoggingConfig {
  format: 'json' | 'pretty';
  level: string;
}

export const loggingConfig = registerAs('logging', (): LoggingConfig => {
  const env = parseEnv(LoggingEnv, process.env);
  return { format: env.LOG_FORMAT as LoggingConfig['format'], level: env.LOG_LEVEL };
});
