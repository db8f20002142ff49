import type { RoutingConfig } from './routing.config';

export type Tier = 'speed' | 'quality' | 'long';

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
  model: string;
  thinking: boolean;
}

/**
 * A rule's answer: the model to use and, when the provider serving it is
 * unusable, the model of the same tier on the other provider. Rules name
 * models only; the provider registry says who serves each.
 */
export interface Route extends RouteChoice {
  fallback: RouteChoice;
}

export interface RouteDecision extends RouteChoice {
  /** The id of the provider serving `model`; unset when no provider serves it. */
  provider?: string;
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

/**
 * The design's routing rules, in order. Each falls back to the same tier on
 * the other provider: speed ↔ speed, quality ↔ quality; long context falls
 * back to GLM quality.
 */
export function routeFor(f: RouteFeatures, c: RoutingConfig): Route {
  if (f.long) return route('long', false, c.kimiLongContextModel, c.glmQualityModel);
  if (f.tool === 'thinkdeep' || EXPERT_TOOLS.has(f.tool))
    return route('quality', true, c.kimiQualityModel, c.glmQualityModel);
  if (f.tool.startsWith('kimi_')) return route('speed', false, c.kimiSpeedModel, c.glmSpeedModel);
  if (f.tool === 'chat' && f.deep) return route('quality', true, c.glmQualityModel, c.kimiQualityModel);
  return route('speed', false, c.glmSpeedModel, c.kimiSpeedModel);
}

function route(tier: Tier, thinking: boolean, model: string, fallback: string): Route {
  return { tier, model, thinking, fallback: { tier, model: fallback, thinking } };
}

export function cacheKey(f: RouteFeatures): string {
  return `${f.tool}|${f.deep ? 1 : 0}${f.web ? 1 : 0}${f.long ? 1 : 0}`;
}
