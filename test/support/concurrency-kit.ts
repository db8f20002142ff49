import { Logger } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import { AdmissionService } from '../../src/concurrency/admission.service';
import { ConcurrencyConfig, toConcurrencyConfig } from '../../src/concurrency/concurrency.config';
import { ConcurrencySnapshotService } from '../../src/concurrency/concurrency-snapshot.service';
import type { LeaseHolder } from '../../src/concurrency/lease';
import { LeaseLedger } from '../../src/concurrency/lease-ledger.service';
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

/** The in-process concurrency stack without Nest, for unit and property tests. */
export function concurrencyKit(
  env: Record<string, string> = {},
  backend: ConcurrencyBackend = new MemoryConcurrencyBackend(),
) {
  const config: ConcurrencyConfig = toConcurrencyConfig(env);
  const metrics = new MetricsService();
  const ledger = new LeaseLedger(config, backend);
  const admission = new AdmissionService(config, ledger, metrics, backend);
  const snapshot = new ConcurrencySnapshotService(config, ledger, admission, metrics, noExtensionProviders());
  return { config, metrics, ledger, admission, snapshot, backend };
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
