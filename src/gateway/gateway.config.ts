import { registerAs } from '@nestjs/config';
import { IsBoolean, IsIn, IsInt, IsString, Matches, Max, Min, ValidateBy, ValidationArguments } from 'class-validator';
import { EnvBool, EnvInt, EnvList } from '../config/env.transforms';
import { isLoopbackHost, ListenHostEnv } from '../config/listen-host';
import { parseEnv } from '../config/validate-config';
import { isIP } from 'node:net';

/**
 * Who may be served a finished result or join a running call of another
 * caller: callers of the same session (the default), anyone, or nobody.
 */
export const RESULT_CACHE_SCOPES = ['session', 'global', 'off'] as const;
export type ResultCacheScope = (typeof RESULT_CACHE_SCOPES)[number];

/** An empty token means no auth, which is refused off loopback unless explicitly allowed. */
function TokenRequiredOffLoopback(): PropertyDecorator {
  return ValidateBy({
    name: 'tokenRequiredOffLoopback',
    validator: {
      validate: (token: unknown, args?: ValidationArguments) => {
        const env = args?.object as GatewayEnv;
        return token !== '' || isLoopbackHost(env.EXAI_WS_HOST) || env.EXAI_WS_ALLOW_INSECURE === true;
      },
      defaultMessage: (args?: ValidationArguments) =>
        `must be set when EXAI_WS_HOST=${(args?.object as GatewayEnv).EXAI_WS_HOST} is not loopback (or set EXAI_WS_ALLOW_INSECURE=true to run without auth)`,
    },
  });
}

export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** An entry of EXAI_TRUSTED_PROXIES: an IPv4 or IPv6 address, or a CIDR range of either; undefined when malformed. */
export function parseAddressRange(entry: string): AddressRange | undefined {
  const [address, prefixText, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export class GatewayEnv extends ListenHostEnv {
  @EnvInt()
  @IsInt()
  @Min(0)
  @Max(65535)
  EXAI_WS_PORT = 8079;

  @IsString()
  @TokenRequiredOffLoopback()
  EXAI_WS_TOKEN = '';

  @EnvBool()
  @IsBoolean()
  EXAI_WS_ALLOW_INSECURE = false;

  @EnvInt()
  @IsInt()
  @Min(1024)
  EXAI_WS_MAX_BYTES = 33554432;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_PING_INTERVAL = 45;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_PING_TIMEOUT = 30;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_MAX_CONNECTIONS = 1000;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_MAX_CONNECTIONS_PER_IP = 64;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_HELLO_TIMEOUT = 5;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_MAX_PENDING_HELLOS = 128;

  @EnvInt()
  @IsInt()
  @Min(8192)
  EXAI_WS_MAX_HELLO_BYTES = 16384;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_HELLO_FAILURES_BEFORE_BACKOFF = 10;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_HELLO_BACKOFF_MAX_SECS = 60;

  @EnvList()
  @IsString({ each: true })
  @Matches(/^[a-z][a-z0-9+.-]*:\/\/[^\s/]+$/i, {
    each: true,
    message: 'must be a comma-separated list of origins such as https://app.example.com (scheme://host[:port])',
  })
  EXAI_WS_ALLOWED_ORIGINS: string[] = [];

  @EnvInt()
  @IsInt()
  @Min(65536)
  EXAI_WS_MAX_BUFFERED_BYTES = 8388608;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_RATE_LIMIT_PER_SEC = 50;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_RATE_LIMIT_BURST = 200;

  @EnvInt()
  @IsInt()
  @Min(0)
  EXAI_WS_RESULT_TTL = 600;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_RESULT_CACHE_MAX_ENTRIES = 1000;

  @EnvInt()
  @IsInt()
  @Min(0)
  EXAI_RESULT_CACHE_MAX_BYTES = 67108864;

  @EnvList()
  @IsString({ each: true })
  EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: string[] = [];

  @IsIn(RESULT_CACHE_SCOPES)
  EXAI_RESULT_CACHE_SCOPE: string = 'session';

  @EnvList()
  @ValidateBy(
    {
      name: 'addressRanges',
      validator: {
        validate: (v: unknown) =>
          Array.isArray(v) && v.every((e) => typeof e === 'string' && parseAddressRange(e) !== undefined),
      },
    },
    { message: 'must be a comma-separated list of IP addresses or CIDR ranges (10.0.0.5, 172.16.0.0/12, fd00::/8)' },
  )
  EXAI_TRUSTED_PROXIES: string[] = [];

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_WS_PROGRESS_INTERVAL_SECS = 8;

  @EnvBool()
  @IsBoolean()
  EXAI_WS_COMPAT_TEXT = true;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_TOOL_TIMEOUT_SECS = 120;

  @EnvInt()
  @IsInt()
  @Min(1)
  EXAI_SHUTDOWN_TIMEOUT_SECS = 8;
}

export interface GatewayConfig {
  host: string;
  port: number;
  token: string;
  allowInsecure: boolean;
  maxBytes: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  helloTimeoutMs: number;
  maxPendingHellos: number;
  maxHelloBytes: number;
  helloFailuresBeforeBackoff: number;
  helloBackoffMaxMs: number;
  allowedOrigins: string[];
  maxBufferedBytes: number;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  resultTtlMs: number;
  resultCacheMaxEntries: number;
  resultCacheMaxBytes: number;
  disableCoalesceFor: string[];
  resultCacheScope: ResultCacheScope;
  /** Peers whose X-Forwarded-For names the client (load balancers), as addresses or CIDR ranges. */
  trustedProxies: string[];
  progressIntervalMs: number;
  compatText: boolean;
  toolTimeoutSecs: number;
  shutdownTimeoutMs: number;
}

export function toGatewayConfig(env: GatewayEnv): GatewayConfig {
  return {
    host: env.EXAI_WS_HOST,
    port: env.EXAI_WS_PORT,
    token: env.EXAI_WS_TOKEN,
    allowInsecure: env.EXAI_WS_ALLOW_INSECURE,
    maxBytes: env.EXAI_WS_MAX_BYTES,
    pingIntervalMs: env.EXAI_WS_PING_INTERVAL * 1000,
    pingTimeoutMs: env.EXAI_WS_PING_TIMEOUT * 1000,
    maxConnections: env.EXAI_WS_MAX_CONNECTIONS,
    maxConnectionsPerIp: env.EXAI_WS_MAX_CONNECTIONS_PER_IP,
    helloTimeoutMs: env.EXAI_WS_HELLO_TIMEOUT * 1000,
    maxPendingHellos: env.EXAI_WS_MAX_PENDING_HELLOS,
    maxHelloBytes: env.EXAI_WS_MAX_HELLO_BYTES,
    helloFailuresBeforeBackoff: env.EXAI_WS_HELLO_FAILURES_BEFORE_BACKOFF,
    helloBackoffMaxMs: env.EXAI_WS_HELLO_BACKOFF_MAX_SECS * 1000,
    // Browsers send the origin in lower case; a configured one may not be.
    allowedOrigins: env.EXAI_WS_ALLOWED_ORIGINS.map((o) => o.toLowerCase()),
    maxBufferedBytes: env.EXAI_WS_MAX_BUFFERED_BYTES,
    rateLimitPerSec: env.EXAI_WS_RATE_LIMIT_PER_SEC,
    rateLimitBurst: env.EXAI_WS_RATE_LIMIT_BURST,
    resultTtlMs: env.EXAI_WS_RESULT_TTL * 1000,
    resultCacheMaxEntries: env.EXAI_WS_RESULT_CACHE_MAX_ENTRIES,
    resultCacheMaxBytes: env.EXAI_RESULT_CACHE_MAX_BYTES,
    disableCoalesceFor: env.EXAI_WS_DISABLE_COALESCE_FOR_TOOLS,
    resultCacheScope: env.EXAI_RESULT_CACHE_SCOPE as ResultCacheScope,
    trustedProxies: env.EXAI_TRUSTED_PROXIES,
    progressIntervalMs: env.EXAI_WS_PROGRESS_INTERVAL_SECS * 1000,
    compatText: env.EXAI_WS_COMPAT_TEXT,
    toolTimeoutSecs: env.EXAI_TOOL_TIMEOUT_SECS,
    shutdownTimeoutMs: env.EXAI_SHUTDOWN_TIMEOUT_SECS * 1000,
  };
}

export const gatewayConfig = registerAs('gateway', (): GatewayConfig =>
  toGatewayConfig(parseEnv(GatewayEnv, process.env)),
);
