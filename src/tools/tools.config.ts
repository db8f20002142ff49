import { registerAs } from '@nestjs/config';
import { IsInt, Min } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

export class ToolsEnv {
  @EnvInt()
  @IsInt()
  @Min(65536)
  EXAI_THREADS_MAX_BYTES = 67108864;
}

export interface ToolsConfig {
  threadsMaxBytes: number;
}

export function toToolsConfig(env: ToolsEnv): ToolsConfig {
  return { threadsMaxBytes: env.EXAI_THREADS_MAX_BYTES };
}

export const toolsConfig = registerAs('tools', (): ToolsConfig => toToolsConfig(parseEnv(ToolsEnv, process.env)));
