import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { MetricsService } from '../metrics/metrics.service';
import type { LlmProvider } from '../providers/llm-provider';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { ModelSelectionCache } from './model-selection.cache';
import { routingConfig } from './routing.config';
import { cacheKey, RouteChoice, RouteDecision, RouteFeatures, routeFor } from './routing.rules';

/**
 * Resolves `model: "auto"`: rules first, then the cache; a provider that is
 * not configured or whose circuit is open is skipped for its fallback, and
 * its cache entries are dropped.
 */
@Injectable()
export class RoutingService {
  private readonly logger = new Logger(RoutingService.name);
  private readonly unavailable = new Set<string>();
  // Bound once: labelled lookups on every resolve cost more than the cache hit itself.
  private readonly hitCounter;
  private readonly missCounter;

  constructor(
    @Inject(routingConfig.KEY) private readonly config: ConfigType<typeof routingConfig>,
    private readonly cache: ModelSelectionCache,
    private readonly providers: LlmProviderRegistry,
    metrics: MetricsService,
  ) {
    this.hitCounter = metrics.routingCache.labels({ result: 'hit' });
    this.missCounter = metrics.routingCache.labels({ result: 'miss' });
  }

  resolve(features: RouteFeatures): RouteDecision {
    this.dropUnavailable();
    const key = cacheKey(features);
    const cached = this.cache.get(key);
    if (cached) {
      this.hitCounter.inc();
      this.logger.debug(`[ROUTING_CACHE] HIT ${features.tool} → ${cached.model}`);
      return cached;
    }
    this.missCounter.inc();
    const { fallback, ...primary } = routeFor(features, this.config);
    const preferred = this.providerOf(primary);
    if (preferred?.isAvailable()) {
      // Stored as the decision a later hit returns, so a hit allocates nothing.
      this.cache.set(key, Object.freeze({ ...primary, provider: preferred.id, fromCache: true }));
      return { ...primary, provider: preferred.id, fromCache: false };
    }
    const other = this.providerOf(fallback);
    if (!other?.isAvailable()) return { ...primary, provider: preferred?.id, fromCache: false };
    // Not cached: the preferred provider should win again as soon as it recovers.
    const from = preferred?.id ?? `the provider of ${primary.model} (none serves it)`;
    this.logger.warn(`Routing ${features.tool} to ${fallback.model}: ${from} is unavailable`);
    return { ...fallback, provider: other.id, fromCache: false, fallbackFrom: preferred?.id };
  }

  snapshot(): {
    cacheSize: number;
    maxEntries: number;
    ttlSecs: number;
    hits: number;
    misses: number;
    hitRatio: number;
  } {
    return {
      cacheSize: this.cache.size,
      maxEntries: this.config.cacheMaxEntries,
      ttlSecs: this.config.cacheTtlMs / 1000,
      hits: this.cache.hits,
      misses: this.cache.misses,
      hitRatio: Math.round(this.cache.hitRatio * 1000) / 1000,
    };
  }

  /** The provider serving the route's model, ours or an extension's; rules never name one. */
  private providerOf(route: RouteChoice): LlmProvider | undefined {
    return this.providers.resolveModel(route.model)?.provider;
  }

  /** Drops a provider's entries once, when it turns unusable (circuit opened). */
  private dropUnavailable(): void {
    for (const provider of this.providers.all()) {
      const down = !provider.isAvailable();
      if (down && !this.unavailable.has(provider.id)) {
        this.unavailable.add(provider.id);
        const dropped = this.cache.dropProvider(provider.id);
        if (dropped > 0)
          this.logger.warn(`[ROUTING_CACHE] dropped ${dropped} entries of ${provider.id}: provider unavailable`);
      } else if (!down) {
        this.unavailable.delete(provider.id);
      }
    }
  }
}
