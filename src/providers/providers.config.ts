import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Min } from 'class-validator';
import { EnvInt, EnvList } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';
import { GLM_MODEL_SPECS } from './glm/glm.models';
import { KIMI_MODEL_SPECS } from './kimi/kimi.models';
import { configuredModels } from './model-catalogue';

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

  @IsOptional()
  @IsUrl(URL_OPTIONS)
  HTTPS_PROXY?: string;

  @IsOptional()
  @IsUrl(URL_OPTIONS)
  HTTP_PROXY?: string;

  @IsOptional()
  @IsString()
  NO_PROXY?: string;

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

  /** Plain ids replace the catalogue (restrict); `+id` entries add to it (extend). Empty = the catalogue. */
  @EnvList()
  @IsString({ each: true })
  GLM_MODELS: string[] = [];

  @EnvList()
  @IsString({ each: true })
  KIMI_MODELS: string[] = [];
}

/** `real` mode needs at least one key; checked with the rest of the config at boot. */
export function providersModeProblems(env: Record<string, string | undefined>): string[] {
  if (env.EXAI_PROVIDERS_MODE !== 'real') return [];
  const keys = ['GLM_API_KEY', 'ZHIPUAI_API_KEY', 'KIMI_API_KEY', 'MOONSHOT_API_KEY'];
  if (keys.some((k) => (env[k] ?? '') !== '')) return [];
  return ['EXAI_PROVIDERS_MODE="real": needs GLM_API_KEY (or ZHIPUAI_API_KEY) or KIMI_API_KEY (or MOONSHOT_API_KEY)'];
}

export interface ProviderTimeouts {
  base: number;
  webSearch: number;
  thinking: number;
  webThinking: number;
}

export interface ProviderSettings {
  apiKey?: string;
  baseUrl: string;
  timeouts: ProviderTimeouts;
  models: string[];
}

/** Outbound proxy for provider calls; loopback (the embedded simulator) never goes through it. */
export interface ProxySettings {
  httpsProxy?: string;
  httpProxy?: string;
  noProxy: string;
}

export interface ProvidersConfig {
  mode: 'auto' | 'real' | 'simulated';
  /** Providers answer from the simulator: mode `simulated`, or `auto` with no API key at all. */
  simulate: boolean;
  proxy: ProxySettings;
  glm: ProviderSettings;
  kimi: ProviderSettings;
  streamIdleTimeoutMs: number;
  maxRetries: number;
  circuitFailureThreshold: number;
  circuitCooldownMs: number;
}

export function toProvidersConfig(env: ProvidersEnv): ProvidersConfig {
  const mode = env.EXAI_PROVIDERS_MODE as ProvidersConfig['mode'];
  const anyKey = [env.GLM_API_KEY, env.ZHIPUAI_API_KEY, env.KIMI_API_KEY, env.MOONSHOT_API_KEY].some(Boolean);
  return {
    mode,
    simulate: mode === 'simulated' || (mode === 'auto' && !anyKey),
    proxy: {
      httpsProxy: env.HTTPS_PROXY || undefined,
      httpProxy: env.HTTP_PROXY || undefined,
      noProxy: [env.NO_PROXY, 'localhost', '127.0.0.1', '::1'].filter(Boolean).join(','),
    },
    glm: {
      apiKey: env.GLM_API_KEY ?? env.ZHIPUAI_API_KEY,
      baseUrl: env.GLM_API_URL,
      models: configuredModels(
        env.GLM_MODELS,
        GLM_MODEL_SPECS.map((m) => m.id),
      ),
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
      models: configuredModels(
        env.KIMI_MODELS,
        KIMI_MODEL_SPECS.map((m) => m.id),
      ),
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
  };
}

export const providersConfig = registerAs('providers', (): ProvidersConfig =>
  toProvidersConfig(parseEnv(ProvidersEnv, process.env)),
);
