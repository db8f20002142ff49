import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TtlLru } from '../common/ttl-lru';
import { routingConfig } from './routing.config';
import { ROUTING_CLOCK } from './routing.constants';
import type { RouteDecision } from './routing.rules';

/** Bounded LRU with TTL for `model: "auto"` decisions, with hit/miss counts. */
@Injectable()
export class ModelSelectionCache {
  private readonly entries: TtlLru<string, RouteDecision>;
  hits = 0;
  misses = 0;

  constructor(
    @Inject(routingConfig.KEY) readonly config: ConfigType<typeof routingConfig>,
    @Inject(ROUTING_CLOCK) clock: () => number,
  ) {
    this.entries = new TtlLru(config.cacheMaxEntries, config.cacheTtlMs, clock);
  }

  get(key: string): RouteDecision | undefined {
    const hit = this.entries.get(key);
    if (hit) this.hits++;
    else this.misses++;
    return hit;
  }

  set(key: string, choice: RouteDecision): void {
    this.entries.set(key, choice);
  }

  /** Drops every entry that routes to `provider`; returns how many. */
  dropProvider(provider: string): number {
    return this.entries.deleteWhere((_k, v) => v.provider === provider);
  }

  /** Forgets every decision (provider_capabilities invalidate_cache); returns how many. */
  clear(): number {
    return this.entries.deleteWhere(() => true);
  }

  get size(): number {
    return this.entries.size;
  }

  get hitRatio(): number {
    const total = this.hits + this.misses;
    return total === 0 ? 0 : this.hits / total;
  }
}
