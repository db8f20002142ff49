import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { MetricsService } from '../metrics/metrics.service';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { concurrencyConfig } from './concurrency.config';
import { GLOBAL_LIMIT, limitKey } from './concurrency.constants';
import { ConcurrencyCore } from './concurrency.core';
import { LeakAudit, ReclaimReason } from './leak-audit';
import { LeaseLedger } from './lease-ledger';

export interface ConcurrencySnapshot {
  profile: string;
  backend: string;
  capacity: Record<string, number>;
  inFlight: Record<string, number>;
  activeSessions: number;
  queued: number;
  leases: number;
  reclaimed: Record<ReclaimReason, number>;
  lastAuditAt: string | null;
}

/** The concurrency state as `/health`, the `health` op and `/metrics` show it. */
@Injectable()
export class ConcurrencySnapshotService {
  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly ledger: LeaseLedger,
    private readonly core: ConcurrencyCore,
    private readonly audit: LeakAudit,
    metrics: MetricsService,
    private readonly registry: LlmProviderRegistry,
  ) {
    metrics.addCollector(async () => {
      const snap = await this.snapshot();
      for (const [limit, n] of Object.entries(snap.capacity)) metrics.capacity.set({ limit }, n);
      for (const [limit, n] of Object.entries(snap.inFlight)) metrics.inflight.set({ limit }, n);
      metrics.queueDepth.set(snap.queued);
    });
  }

  /** Capacity per limit: global, each provider (its effective limit when adaptive), and the per-session cap. */
  capacities(): Record<string, number> {
    const providers = this.providers();
    return {
      [GLOBAL_LIMIT]: this.config.limits.global,
      ...Object.fromEntries(providers.map((p) => [p, this.core.capacityOf(p)])),
      session: this.config.limits.session,
    };
  }

  /**
   * Every provider a call can take a limit of: those with a configured limit
   * and those registered without one (they share the global capacity).
   */
  private providers(): string[] {
    const ids = new Set(Object.keys(this.config.limits.providers));
    for (const provider of this.registry.all()) ids.add(provider.id);
    return [...ids];
  }

  async snapshot(): Promise<ConcurrencySnapshot> {
    const counts = await this.ledger.counts();
    const capacity = this.capacities();
    const inFlight: Record<string, number> = { [GLOBAL_LIMIT]: counts.get(limitKey.global()) ?? 0 };
    for (const provider of this.providers()) {
      inFlight[provider] = counts.get(limitKey.provider(provider)) ?? 0;
    }
    let activeSessions = 0;
    let busiestSession = 0;
    for (const [key, n] of counts) {
      if (!key.startsWith('session:') || n === 0) continue;
      activeSessions++;
      busiestSession = Math.max(busiestSession, n);
    }
    inFlight.session_max = busiestSession;
    return {
      profile: this.config.profile,
      backend: this.config.backend,
      capacity,
      inFlight,
      activeSessions,
      queued: this.core.queued,
      leases: this.ledger.size,
      reclaimed: this.audit.reclaimed,
      lastAuditAt: this.audit.lastAuditAt?.toISOString() ?? null,
    };
  }
}
