import { registerAs } from '@nestjs/config';
import { IsString, Matches } from 'class-validator';
import { EnvList } from '../config/env.transforms';
import { ListenHostEnv } from '../config/listen-host';
import { parseEnv } from '../config/validate-config';

/**
 * Who the HTTP endpoints answer. The bind address is the gateway's own
 * (EXAI_WS_HOST, shared through ListenHostEnv), so this module decides Host
 * checks without depending on the gateway.
 */
export class HttpEnv extends ListenHostEnv {
  @EnvList()
  @IsString({ each: true })
  @Matches(/^[^\s/@:]+$/, { each: true, message: 'must be host names without port, path or credentials' })
  EXAI_HTTP_ALLOWED_HOSTS: string[] = [];
}

export interface HttpConfig {
  /** The address the daemon listens on (EXAI_WS_HOST). */
  host: string;
  /** Extra Host header names the HTTP endpoints answer to, lower case. */
  allowedHosts: string[];
}

export function toHttpConfig(env: HttpEnv): HttpConfig {
  return {
    host: env.EXAI_WS_HOST,
    allowedHosts: env.EXAI_HTTP_ALLOWED_HOSTS.map((h) => h.toLowerCase()),
  };
}

export const httpConfig = registerAs('http', (): HttpConfig => toHttpConfig(parseEnv(HttpEnv, process.env)));
