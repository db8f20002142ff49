import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MetricsService } from '../src/metrics/metrics.service';
import type { LlmProvider } from '../src/providers/llm-provider';
import { LlmProviderRegistry } from '../src/providers/llm-provider-registry.service';
import { parseEnv } from '../src/config/validate-config';
import { ModelSelectionCache } from '../src/routing/model-selection.cache';
import { routingConfig, RoutingEnv, toRoutingConfig } from '../src/routing/routing.config';
import { ROUTING_CLOCK } from '../src/routing/routing.constants';
import { routeFor, RouteFeatures } from '../src/routing/routing.rules';
import { RoutingService } from '../src/routing/routing.service';

const config = toRoutingConfig(parseEnv(RoutingEnv, {}));
const f = (tool: string, over: Partial<RouteFeatures> = {}): RouteFeatures => ({
  tool,
  deep: false,
  web: false,
  long: false,
  ...over,
});

describe('routing rules', () => {
  // Rules name models only; who serves a model is the provider registry's answer (below).
  it.each([
    ['thinkdeep', f('thinkdeep'), 'kimi-k2-thinking', true, 'glm-4.6'],
    ['thinkdeep with web', f('thinkdeep', { web: true }), 'kimi-k2-thinking', true, 'glm-4.6'],
    ['kimi_* tools', f('kimi_chat_with_tools'), 'kimi-k2-turbo-preview', false, 'glm-4.5-flash'],
    ['chat', f('chat'), 'glm-4.5-flash', false, 'kimi-k2-turbo-preview'],
    ['chat with web', f('chat', { web: true }), 'glm-4.5-flash', false, 'kimi-k2-turbo-preview'],
    ['chat thinking medium+', f('chat', { deep: true }), 'glm-4.6', true, 'kimi-k2-thinking'],
    ['glm_web_search', f('glm_web_search', { web: true }), 'glm-4.5-flash', false, 'kimi-k2-turbo-preview'],
    ['a prompt over the GLM window', f('chat', { long: true }), 'kimi-k2-0905-preview', false, 'glm-4.6'],
    ['a long thinkdeep prompt', f('thinkdeep', { long: true }), 'kimi-k2-0905-preview', false, 'glm-4.6'],
    [
      'a workflow expert call (codereview)',
      f('codereview', { deep: true, web: true }),
      'kimi-k2-thinking',
      true,
      'glm-4.6',
    ],
    ['a consensus model given as auto', f('consensus'), 'kimi-k2-thinking', true, 'glm-4.6'],
    [
      'planner never routes a model, so it is an ordinary tool',
      f('planner'),
      'glm-4.5-flash',
      false,
      'kimi-k2-turbo-preview',
    ],
  ])('%s', (_label, features, model, thinking, fallback) => {
    const route = routeFor(features, config);
    expect(route).toMatchObject({ model, thinking, fallback: { tier: route.tier, model: fallback, thinking } });
  });
});

describe('RoutingService', () => {
  let now = 0;
  const available: Record<string, boolean> = { GLM: true, KIMI: true };
  const MODELS: Record<string, string[]> = {
    GLM: ['glm-4.5-flash', 'glm-4.6'],
    KIMI: ['kimi-k2-turbo-preview', 'kimi-k2-thinking', 'kimi-k2-0905-preview'],
  };
  function fakeProvider(id: string): LlmProvider {
    return { id, isAvailable: () => available[id] } as unknown as LlmProvider;
  }

  async function make(routing = config, ids = ['GLM', 'KIMI']) {
    const providers = ids.map(fakeProvider);
    const registry = {
      all: () => providers,
      get: (id: string) => providers.find((p) => p.id === id),
      resolveModel: (model: string) => {
        const provider = providers.find((p) => MODELS[p.id].includes(model));
        return provider && { provider, model: { id: model } };
      },
    };
    const moduleRef = await Test.createTestingModule({
      providers: [
        RoutingService,
        ModelSelectionCache,
        MetricsService,
        { provide: routingConfig.KEY, useValue: routing },
        { provide: ROUTING_CLOCK, useValue: () => now },
        { provide: LlmProviderRegistry, useValue: registry },
      ],
    }).compile();
    return {
      routing: moduleRef.get(RoutingService),
      cache: moduleRef.get(ModelSelectionCache),
      metrics: moduleRef.get(MetricsService),
    };
  }

  beforeEach(() => {
    now = 1_000_000;
    available.GLM = true;
    available.KIMI = true;
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('caches by tool and features and logs hits at debug', async () => {
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    const { routing, metrics } = await make();
    expect(routing.resolve(f('chat')).fromCache).toBe(false);
    expect(routing.resolve(f('chat'))).toMatchObject({ fromCache: true, model: 'glm-4.5-flash' });
    expect(routing.resolve(f('chat', { deep: true })).fromCache).toBe(false);
    expect(debug).toHaveBeenCalledWith('[ROUTING_CACHE] HIT chat → glm-4.5-flash');
    expect(routing.snapshot()).toMatchObject({ cacheSize: 2, hits: 1, misses: 2, hitRatio: 0.333 });
    expect(await metrics.render()).toMatch(/exai_routing_cache_total\{result="hit"\} 1/);
  });

  it('expires entries after ROUTING_CACHE_MODEL_TTL_SECS, using the injected clock', async () => {
    const { routing } = await make();
    routing.resolve(f('chat'));
    now += 179_999;
    expect(routing.resolve(f('chat')).fromCache).toBe(true);
    now += 1;
    expect(routing.resolve(f('chat')).fromCache).toBe(false);
  });

  it('falls back to the other provider in the same tier when the circuit opens, dropping that provider’s entries', async () => {
    const { routing, cache } = await make();
    routing.resolve(f('chat'));
    routing.resolve(f('chat', { deep: true }));
    routing.resolve(f('thinkdeep'));
    expect(cache.size).toBe(3);
    available.GLM = false;
    expect(routing.resolve(f('chat'))).toMatchObject({
      provider: 'KIMI',
      model: 'kimi-k2-turbo-preview',
      fallbackFrom: 'GLM',
      fromCache: false,
    });
    expect(cache.size).toBe(1);
    expect(routing.resolve(f('chat', { deep: true }))).toMatchObject({
      provider: 'KIMI',
      model: 'kimi-k2-thinking',
      thinking: true,
    });
    expect(routing.resolve(f('thinkdeep'))).toMatchObject({ provider: 'KIMI', fromCache: true });
    // Fallback decisions are not cached: GLM wins again as soon as it recovers.
    available.GLM = true;
    expect(routing.resolve(f('chat'))).toMatchObject({ provider: 'GLM', model: 'glm-4.5-flash' });
  });

  it('falls back from Kimi to GLM, and keeps the primary when neither is usable', async () => {
    const { routing } = await make();
    available.KIMI = false;
    expect(routing.resolve(f('thinkdeep'))).toMatchObject({ provider: 'GLM', model: 'glm-4.6', thinking: true });
    expect(routing.resolve(f('kimi_chat_with_tools'))).toMatchObject({ provider: 'GLM', model: 'glm-4.5-flash' });
    available.GLM = false;
    const neither = routing.resolve(f('thinkdeep'));
    expect(neither).toMatchObject({ provider: 'KIMI', model: 'kimi-k2-thinking' });
    expect(neither).not.toHaveProperty('fallbackFrom');
  });

  it('routes to whichever provider serves the configured model, an extension provider included', async () => {
    MODELS.LOCAL = ['local-gate'];
    available.LOCAL = true;
    available.GLM = false;
    const { routing } = await make({ ...config, glmSpeedModel: 'local-gate' }, ['GLM', 'KIMI', 'LOCAL']);
    expect(routing.resolve(f('chat'))).toMatchObject({ provider: 'LOCAL', model: 'local-gate', fromCache: false });
    expect(routing.resolve(f('chat'))).toMatchObject({ provider: 'LOCAL', fromCache: true });
    // Its circuit opening sends the tier to the other model's provider, as for ours.
    available.LOCAL = false;
    expect(routing.resolve(f('chat'))).toMatchObject({
      provider: 'KIMI',
      model: 'kimi-k2-turbo-preview',
      fallbackFrom: 'LOCAL',
    });
  });

  it('treats a routed model no provider serves as unusable, and falls back', async () => {
    const { routing } = await make({ ...config, glmSpeedModel: 'glm-unknown' });
    expect(routing.resolve(f('chat'))).toMatchObject({ provider: 'KIMI', model: 'kimi-k2-turbo-preview' });
  });

  it('stays bounded', async () => {
    const small = { ...config, cacheMaxEntries: 2 };
    const moduleRef = await Test.createTestingModule({
      providers: [
        ModelSelectionCache,
        { provide: routingConfig.KEY, useValue: small },
        { provide: ROUTING_CLOCK, useValue: () => now },
      ],
    }).compile();
    const cache = moduleRef.get(ModelSelectionCache);
    for (const tool of ['a', 'b', 'c', 'd']) cache.set(tool, { ...routeFor(f(tool), config), fromCache: true });
    expect(cache.size).toBe(2);
  });
});
