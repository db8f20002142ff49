import { Logger } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import { Clock, systemClock } from '../../src/common/clock';
import { ConcurrencyConfig, toConcurrencyConfig } from '../../src/concurrency/concurrency.config';
import { ConcurrencySnapshotService } from '../../src/concurrency/concurrency-snapshot.service';
import { ConcurrencyCore } from '../../src/concurrency/concurrency.core';
import { LeakAudit } from '../../src/concurrency/leak-audit';
import type { LeaseHolder } from '../../src/concurrency/lease';
import { LeaseLedger } from '../../src/concurrency/lease-ledger';
import { MemoryConcurrencyBackend } from '../../src/concurrency/memory-concurrency.backend';
import type { ConcurrencyBackend } from '../../src/concurrency/concurrency-backend';
import { MetricsService } from '../../src/metrics/metrics.service';
import { LlmProviderRegistry } from '../../src/providers/llm-provider-registry.service';

/** Small limits (global 3, session 2, GLM 1, KIMI 2) and a queue timeout no test reaches. */
export const SMALL_LIMITS: Record<string, string> = {
  EXAI_WS_GLOBAL_MAX_INFLIGHT: '3',
  EXAI_WS_SESSION_MAX_INFLIGHT: '2',
  EXAI_WS_GLM_MAX_INFLIGHT: '1',
  EXAI_WS_KIMI_MAX_INFLIGHT: '2',
  EXAI_WS_QUEUE_TIMEOUT_SECS: '3600',
};

/**
 * The framework-free concurrency core (ledger, admission, audit) on one
 * environment, without Nest, for unit and property tests; the snapshot
 * service on top of it for the tests that read what /health shows.
 */
export function concurrencyKit(
  env: Record<string, string> = {},
  backend: ConcurrencyBackend = new MemoryConcurrencyBackend(),
  clock: Clock = systemClock,
) {
  const config: ConcurrencyConfig = toConcurrencyConfig(env);
  const metrics = new MetricsService();
  const ledger = new LeaseLedger(backend, config.leaseGraceMs, clock, new Logger(LeaseLedger.name));
  const core = new ConcurrencyCore(config, ledger, clock);
  const audit = new LeakAudit(ledger, clock, new Logger('SemaphoreHealth'));
  const snapshot = new ConcurrencySnapshotService(config, ledger, core, audit, metrics, noExtensionProviders());
  return { config, metrics, ledger, core, audit, snapshot, backend };
}

/** A clock the test moves by hand: `advance` runs the timers that fall due. */
export class ManualClock implements Clock {
  private timers: Array<{ at: number; fn: () => void }> = [];

  constructor(private at = 1_000_000) {}

  now(): number {
    return this.at;
  }

  set(at: number): void {
    this.advance(at - this.at);
  }

  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.at + ms, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((t) => t !== timer));
  }

  advance(ms: number): void {
    this.at += ms;
    const due = this.timers.filter((t) => t.at <= this.at).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((t) => t.at > this.at);
    for (const t of due) t.fn();
  }
}

/** A provider registry with no discovered providers: the configured limits are all there is. */
function noExtensionProviders(): LlmProviderRegistry {
  const registry = new LlmProviderRegistry({ getProviders: () => [] } as unknown as DiscoveryService);
  registry.onModuleInit();
  return registry;
}

let seq = 0;
export function holder(
  sessionId: string,
  provider?: string,
  over: Partial<LeaseHolder> = {},
): LeaseHolder & { live: boolean } {
  const h: LeaseHolder & { live: boolean } = {
    requestId: `req-${++seq}`,
    sessionId,
    connectionId: `conn-${sessionId}`,
    provider,
    timeoutMs: 60_000,
    live: true,
    isLive(): boolean {
      return h.live;
    },
    abort: () => undefined,
    ...over,
  };
  return h;
}

/** Lets every pending promise callback run (the admission pump is a promise chain). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export const silentLogger = new Logger('test');
