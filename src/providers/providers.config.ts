import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Min } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

const URL_OPTIONS = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

export class ProvidersEnv {
  @IsIn(['auto', 'real', 'simulated'])
  EXAI_PROVIDERS_MODE: string = 'auto';

  @IsOptional()
  @IsString()
  GLM_API_KEY?: string;

  @IsOptional()
  @IsString()
  ZHIPUAI_API_KEY?: string;

  @IsOptional()
  @IsString()
  KIMI_API_KEY?: string;

  @IsOptional()
  @IsString()
  MOONSHOT_API_KEY?: string;

  @IsUrl(URL_OPTIONS)
  GLM_API_URL = 'https://api.z.ai/api/paas/v4';

  @IsUrl(URL_OPTIONS)
  KIMI_API_URL = 'https://api.moonshot.ai/v1';

  @EnvInt() @IsInt() @Min(1) KIMI_TIMEOUT_SECS = 240;
  @EnvInt() @IsInt() @Min(1) KIMI_WEB_SEARCH_TIMEOUT_SECS = 300;
  @EnvInt() @IsInt() @Min(1) KIMI_THINKING_TIMEOUT_SECS = 360;
  @EnvInt() @IsInt() @Min(1) KIMI_WEB_THINKING_TIMEOUT_SECS = 420;
  @EnvInt() @IsInt() @Min(1) GLM_TIMEOUT_SECS = 120;
  @EnvInt() @IsInt() @Min(1) GLM_WEB_SEARCH_TIMEOUT_SECS = 180;
  @EnvInt() @IsInt() @Min(1) GLM_THINKING_TIMEOUT_SECS = 240;
  @EnvInt() @IsInt() @Min(1) GLM_WEB_THINKING_TIMEOUT_SECS = 300;
  @EnvInt() @IsInt() @Min(1) EXAI_STREAM_IDLE_TIMEOUT_SECS = 60;
  @EnvInt() @IsInt() @Min(0) EXAI_PROVIDER_MAX_RETRIES = 2;
  @EnvInt() @IsInt() @Min(1) EXAI_CIRCUIT_FAILURE_THRESHOLD = 5;
  @EnvInt() @IsInt() @Min(1) EXAI_CIRCUIT_COOLDOWN_SECS = 30;
  @EnvInt() @IsInt() @Min(0) SIM_PORT = 8090;
}

export interface ProviderTimeouts {
  base: number;
  webSearch: number;
  thinking: number;
  webThinking: number;
}

export interface ProvidersConfig {
  mode: 'auto' | 'real' | 'simulated';
  glm: { apiKey?: string; baseUrl: string; timeouts: ProviderTimeouts };
  kimi: { apiKey?: string; baseUrl: string; timeouts: ProviderTimeouts };
  streamIdleTimeoutMs: number;
  maxRetries: number;
  circuitFailureThreshold: number;
  circuitCooldownMs: number;
  simulatorPort: number;
}

export function toProvidersConfig(env: ProvidersEnv): ProvidersConfig {
  return {
    mode: env.EXAI_PROVIDERS_MODE as ProvidersConfig['mode'],
    glm: {
      apiKey: env.GLM_API_KEY ?? env.ZHIPUAI_API_KEY,
      baseUrl: env.GLM_API_URL,
      timeouts: {
        base: env.GLM_TIMEOUT_SECS,
        webSearch: env.GLM_WEB_SEARCH_TIMEOUT_SECS,
        thinking: env.GLM_THINKING_TIMEOUT_SECS,
        webThinking: env.GLM_WEB_THINKING_TIMEOUT_SECS,
      },
    },
    kimi: {
      apiKey: env.KIMI_API_KEY ?? env.MOONSHOT_API_KEY,
      baseUrl: env.KIMI_API_URL,
      timeouts: {
        base: env.KIMI_TIMEOUT_SECS,
        webSearch: env.KIMI_WEB_SEARCH_TIMEOUT_SECS,
        thinking: env.KIMI_THINKING_TIMEOUT_SECS,
        webThinking: env.KIMI_WEB_THINKING_TIMEOUT_SECS,
      },
    },
    streamIdleTimeoutMs: env.EXAI_STREAM_IDLE_TIMEOUT_SECS * 1000,
    maxRetries: env.EXAI_PROVIDER_MAX_RETRIES,
    circuitFailureThreshold: env.EXAI_CIRCUIT_FAILURE_THRESHOLD,
    circuitCooldownMs: env.EXAI_CIRCUIT_COOLDOWN_SECS * 1000,
    simulatorPort: env.SIM_PORT,
  };
}

export const providersConfig = registerAs('providers', (): ProvidersConfig =>
  toProvidersConfig(parseEnv(ProvidersEnv, process.env)),
);
