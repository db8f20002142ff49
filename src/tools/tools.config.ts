import { registerAs } from '@nestjs/config';
import { IsBoolean, IsInt, Max, Min } from 'class-validator';
import { EnvBool, EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

export class ToolsEnv {
  @EnvInt()
  @IsInt()
  @Min(65536)
  EXAI_THREADS_MAX_BYTES = 67108864;

  /** Exposes the `self-check` tool. */
  @EnvBool() @IsBoolean() EXAI_DIAGNOSTICS = false;
  @EnvInt() @IsInt() @Min(1) @Max(100) EXAI_UPLOAD_MAX_FILES = 10;
  @EnvInt() @IsInt() @Min(1) @Max(100) EXAI_UPLOAD_MAX_FILE_MB = 20;
  @EnvInt() @IsInt() @Min(0) @Max(100_000) EXAI_UPLOAD_CACHE_ENTRIES = 1000;
}

export interface ToolsConfig {
  threadsMaxBytes: number;
  diagnostics: boolean;
  /** Files one upload call may send. */
  uploadMaxFiles: number;
  /** Bytes one uploaded file may have. */
  uploadMaxFileBytes: number;
  /** Entries of the sha256 → provider file id cache; 0 turns dedupe off. */
  uploadCacheEntries: number;
}

export function toToolsConfig(env: ToolsEnv): ToolsConfig {
  return {
    threadsMaxBytes: env.EXAI_THREADS_MAX_BYTES,
    diagnostics: env.EXAI_DIAGNOSTICS,
    uploadMaxFiles: env.EXAI_UPLOAD_MAX_FILES,
    uploadMaxFileBytes: env.EXAI_UPLOAD_MAX_FILE_MB * 1024 * 1024,
    uploadCacheEntries: env.EXAI_UPLOAD_CACHE_ENTRIES,
  };
}

export const toolsConfig = registerAs('tools', (): ToolsConfig => toToolsConfig(parseEnv(ToolsEnv, process.env)));
