import { registerAs } from '@nestjs/config';
import { IsInt, Max, Min, ValidateBy } from 'class-validator';
import { homedir } from 'node:os';
import { isAbsolute } from 'node:path';
import { EnvInt, EnvList } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';
import { isLoopbackHost, ListenHostEnv } from '../config/listen-host';

/** `none` as the only entry turns file reading off even on a loopback bind. */
export const NO_ROOTS = 'none';

function AbsolutePaths(): PropertyDecorator {
  return ValidateBy({
    name: 'absolutePaths',
    validator: {
      validate: (value: unknown) =>
        Array.isArray(value) &&
        value.every((p) => typeof p === 'string' && (isAbsolute(p) || (p === NO_ROOTS && value.length === 1))),
      defaultMessage: () => `must be a comma-separated list of absolute folders (or "${NO_ROOTS}")`,
    },
  });
}

export class FilesEnv {
  // Empty: the daemon user's home directory on a loopback bind, none otherwise
  // (there the paths an agent sends name files on the agent's machine).
  @EnvList()
  @AbsolutePaths()
  EXAI_FILE_ROOTS: string[] = [];

  // Secret-looking files (.ssh/, .gnupg/, .env*, *.pem, id_*) under these paths may be read anyway.
  @EnvList()
  @AbsolutePaths()
  EXAI_FILE_ALLOW_SECRETS: string[] = [];

  @EnvInt()
  @IsInt()
  @Min(1)
  @Max(10000)
  EXAI_FILE_MAX_FILES = 200;

  @EnvInt()
  @IsInt()
  @Min(1024)
  EXAI_FILE_MAX_FILE_BYTES = 1_000_000;

  @EnvInt()
  @IsInt()
  @Min(1024)
  EXAI_FILE_MAX_TOTAL_BYTES = 8 * 1024 * 1024;
}

export interface FilesConfig {
  /** Absolute folders files may be read from; empty means no file may be read. */
  roots: string[];
  allowSecrets: string[];
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
}

export function toFilesConfig(env: FilesEnv, host: string, home: string = homedir()): FilesConfig {
  let roots = env.EXAI_FILE_ROOTS;
  if (roots.length === 0) roots = isLoopbackHost(host) ? [home] : [];
  if (roots.length === 1 && roots[0] === NO_ROOTS) roots = [];
  return {
    roots,
    allowSecrets: env.EXAI_FILE_ALLOW_SECRETS,
    maxFiles: env.EXAI_FILE_MAX_FILES,
    maxFileBytes: env.EXAI_FILE_MAX_FILE_BYTES,
    maxTotalBytes: env.EXAI_FILE_MAX_TOTAL_BYTES,
  };
}

export const filesConfig = registerAs('files', (): FilesConfig => {
  const host = parseEnv(ListenHostEnv, process.env).EXAI_WS_HOST;
  return toFilesConfig(parseEnv(FilesEnv, process.env), host);
});
