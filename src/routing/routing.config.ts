import { registerAs } from '@nestjs/config';
import { IsInt, IsString, Min, MinLength } from 'class-validator';
import { EnvInt } from '../config/env.transforms';
import { parseEnv } from '../config/validate-config';

export class RoutingEnv {
  @IsString() @MinLength(1) GLM_SPEED_MODEL = 'glm-4.5-flash';
  @IsString() @MinLength(1) GLM_QUALITY_MODEL = 'glm-4.6';
  @IsString() @MinLength(1) KIMI_SPEED_MODEL = 'kimi-k2-turbo-preview';
  @IsString() @MinLength(1) KIMI_QUALITY_MODEL = 'kimi-k2-thinking';
  @IsString() @MinLength(1) KIMI_LONG_CONTEXT_MODEL = 'kimi-k2-0905-preview';
  @EnvInt() @IsInt() @Min(1) ROUTING_CACHE_MAX_ENTRIES = 1000;
  @EnvInt() @IsInt() @Min(0) ROUTING_CACHE_MODEL_TTL_SECS = 180;
  @EnvInt() @IsInt() @Min(1000) GLM_CONTEXT_WINDOW_TOKENS = 128000;
  @EnvInt() @IsInt() @Min(1000) KIMI_CONTEXT_WINDOW_TOKENS = 262144;
}

export interface RoutingConfig {
  glmSpeedModel: string;
  glmQualityModel: string;
  kimiSpeedModel: string;
  kimiQualityModel: string;
  kimiLongContextModel: string;
  cacheMaxEntries: number;
  cacheTtlMs: number;
  glmContextTokens: number;
  /** Each provider's configured context window by provider id, for models the catalogue does not size. */
  contextTokensByProvider: Readonly<Record<string, number>>;
}

export function toRoutingConfig(env: RoutingEnv): RoutingConfig {
  return {
    glmSpeedModel: env.GLM_SPEED_MODEL,
    glmQualityModel: env.GLM_QUALITY_MODEL,
    kimiSpeedModel: env.KIMI_SPEED_MODEL,
    kimiQualityModel: env.KIMI_QUALITY_MODEL,
    kimiLongContextModel: env.KIMI_LONG_CONTEXT_MODEL,
    cacheMaxEntries: env.ROUTING_CACHE_MAX_ENTRIES,
    cacheTtlMs: env.ROUTING_CACHE_MODEL_TTL_SECS * 1000,
    glmContextTokens: env.GLM_CONTEXT_WINDOW_TOKENS,
    contextTokensByProvider: { GLM: env.GLM_CONTEXT_WINDOW_TOKENS, KIMI: env.KIMI_CONTEXT_WINDOW_TOKENS },
  };
}

export const routingConfig = registerAs('routing', (): RoutingConfig =>
  toRoutingConfig(parseEnv(RoutingEnv, process.env)),
);
