import { Logger } from '@nestjs/common';
import { parseEnv } from '../src/config/validate-config';
import { MetricsService } from '../src/metrics/metrics.service';
import type { LlmProvider } from '../src/providers/llm-provider';
import type { LlmProviderRegistry } from '../src/providers/llm-provider-registry.service';
import { ModelSelectionCache } from '../src/routing/model-selection.cache';
import { RoutingEnv, toRoutingConfig } from '../src/routing/routing.config';
import { RoutingService } from '../src/routing/routing.service';
import { fmt, summarize } from './stats';

/** Cached `model: "auto"` resolution, the path every routed call takes. */
export function routingBench(): void {
  // As in production at LOG_LEVEL=info: the per-hit debug line is filtered out.
  Logger.overrideLogger(['log', 'warn', 'error', 'fatal']);
  const config = toRoutingConfig(parseEnv(RoutingEnv, {}));
  const providers = ['GLM', 'KIMI'].map((id) => ({ id, isAvailable: () => true }) as unknown as LlmProvider);
  const [glm, kimi] = providers;
  const registry = {
    all: () => providers,
    get: (id: string) => providers.find((p) => p.id === id),
    // The routed models are the built-in ones: GLM's glm-*, Kimi's kimi-* and moonshot-*.
    resolveModel: (name: string) => ({ provider: name.startsWith('glm-') ? glm : kimi }),
  } as unknown as LlmProviderRegistry;
  const routing = new RoutingService(config, new ModelSelectionCache(config, Date.now), registry, new MetricsService());
  const features = { tool: 'chat', deep: false, web: false, long: false };
  for (let i = 0; i < 20_000; i++) routing.resolve(features);
  const samples: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    const t0 = process.hrtime.bigint();
    routing.resolve(features);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const s = summarize(samples);
  console.log(
    `routing resolve, cache hit (${s.n}): p50 ${fmt(s.p50, 2)} µs, p99 ${fmt(s.p99, 2)} µs  [target p99 <= 5 µs]`,
  );
}
