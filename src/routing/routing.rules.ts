import type { RoutingConfig } from './routing.config';

export type Tier = 'speed' | 'quality' | 'long';
export type RoutedProvider = 'GLM' | 'KIMI';

/** What decides the route; never the prompt text itself, so it is a good cache key. */
export interface RouteFeatures {
  tool: string;
  /** thinking_mode medium or higher. */
  deep: boolean;
  web: boolean;
  /** The prompt is estimated to exceed GLM's context window. */
  long: boolean;
}

export interface RouteChoice {
  tier: Tier;
  provider: RoutedProvider;
  model: string;
  thinking: boolean;
}

export interface RouteDecision extends RouteChoice {
  fromCache: boolean;
  /** Set when the preferred provider was unusable and the other one took the call. */
  fallbackFrom?: string;
}

/** Rough token estimate used for routing only (docs/providers.md §6: ≈ chars/4). */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** Workflow tools whose model call (the final expert review, a consensus voice) wants the quality tier. */
const EXPERT_TOOLS = new Set([
  'analyze',
  'codereview',
  'debug',
  'refactor',
  'secaudit',
  'testgen',
  'precommit',
  'consensus',
]);

/** The design's routing rules, in order. */
export function primaryRoute(f: RouteFeatures, c: RoutingConfig): RouteChoice {
  if (f.long) return { tier: 'long', provider: 'KIMI', model: c.kimiLongContextModel, thinking: false };
  if (f.tool === 'thinkdeep' || EXPERT_TOOLS.has(f.tool))
    return { tier: 'quality', provider: 'KIMI', model: c.kimiQualityModel, thinking: true };
  if (f.tool.startsWith('kimi_')) return { tier: 'speed', provider: 'KIMI', model: c.kimiSpeedModel, thinking: false };
  if (f.tool === 'chat' && f.deep)
    return { tier: 'quality', provider: 'GLM', model: c.glmQualityModel, thinking: true };
  return { tier: 'speed', provider: 'GLM', model: c.glmSpeedModel, thinking: false };
}

/** The same tier on the other provider: speed ↔ speed, quality ↔ quality; long context falls back to GLM quality. */
export function fallbackRoute(primary: RouteChoice, c: RoutingConfig): RouteChoice {
  if (primary.provider === 'GLM') {
    return primary.tier === 'quality'
      ? { tier: 'quality', provider: 'KIMI', model: c.kimiQualityModel, thinking: true }
      : { tier: primary.tier, provider: 'KIMI', model: c.kimiSpeedModel, thinking: false };
  }
  if (primary.tier === 'speed') return { tier: 'speed', provider: 'GLM', model: c.glmSpeedModel, thinking: false };
  return { tier: primary.tier, provider: 'GLM', model: c.glmQualityModel, thinking: primary.thinking };
}

export function cacheKey(f: RouteFeatures): string {
  return `${f.tool}|${f.deep ? 1 : 0}${f.web ? 1 : 0}${f.long ? 1 : 0}`;
}
