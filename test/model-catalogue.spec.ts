import { GLM_MODEL_SPECS } from '../src/providers/glm/glm.models';
import { KIMI_MODEL_SPECS } from '../src/providers/kimi/kimi.models';
import { configuredModels, ModelCatalogue } from '../src/providers/model-catalogue';
import { SIM_MODELS } from '../src/simulator/simulator.models';

const kimiIds = KIMI_MODEL_SPECS.map((m) => m.id);
const byName = (id: string) => id.includes('thinking');

describe('model catalogue', () => {
  it('carries the old models with window, output cap and capability flags', () => {
    const glm = new ModelCatalogue(
      GLM_MODEL_SPECS,
      GLM_MODEL_SPECS.map((m) => m.id),
      byName,
    );
    const kimi = new ModelCatalogue(KIMI_MODEL_SPECS, kimiIds, byName);
    for (const id of ['glm-4.6', 'glm-4.5', 'glm-4.5-air', 'glm-4.5-flash', 'glm-4.5v']) {
      expect(glm.resolve(id)).toMatchObject({ id, contextWindow: expect.any(Number), maxOutput: expect.any(Number) });
    }
    for (const size of ['8k', '32k', '128k']) {
      expect(kimi.resolve(`moonshot-v1-${size}`)).toMatchObject({ vision: false });
      expect(kimi.resolve(`moonshot-v1-${size}-vision-preview`)).toMatchObject({ vision: true });
      expect(kimi.resolve(`kimi-latest-${size}`)).toMatchObject({ vision: true });
    }
    expect(kimi.resolve('kimi-thinking-preview')).toMatchObject({ thinking: true, contextWindow: 131_072 });
    expect(kimi.resolve('kimi-k2-0905-preview')).toMatchObject({ contextWindow: 262_144, tools: true });
    expect(glm.resolve('glm-4.5v')).toMatchObject({ vision: true, contextWindow: 65_536 });
    expect(glm.resolve('glm-4.5-flash')).toMatchObject({ vision: false });
  });

  it.each([
    ['kimi-k2-0905', 'kimi-k2-0905-preview'],
    ['kimi-k2', 'kimi-k2-0905-preview'],
    ['kimi-k2-0711', 'kimi-k2-0711-preview'],
    ['kimi-k2-turbo', 'kimi-k2-turbo-preview'],
    ['KIMI-K2-0711-PREVIEW', 'kimi-k2-0711-preview'],
    ['Moonshot-V1-8K', 'moonshot-v1-8k'],
  ])('resolves %s to %s', (name, id) => {
    expect(new ModelCatalogue(KIMI_MODEL_SPECS, kimiIds, byName).resolve(name)?.id).toBe(id);
  });

  it('resolves glm-4.5-x (any case) to glm-4.5-air', () => {
    const glm = new ModelCatalogue(GLM_MODEL_SPECS, ['glm-4.5-air'], byName);
    expect(glm.resolve('GLM-4.5-X')?.id).toBe('glm-4.5-air');
  });

  it('restricts to the configured ids, takes an alias as its model, and gives unknown ids the generic entry', () => {
    const kimi = new ModelCatalogue(KIMI_MODEL_SPECS, ['kimi-k2', 'kimi-k2-0905-preview', 'kimi-k9-thinking'], byName);
    expect(kimi.ids()).toEqual(['kimi-k2-0905-preview', 'kimi-k9-thinking']);
    expect(kimi.resolve('kimi-k2-0711-preview')).toBeUndefined();
    expect(kimi.resolve('kimi-k9-thinking')).toEqual({
      id: 'kimi-k9-thinking',
      contextWindow: 8_192,
      maxOutput: 2_048,
      thinking: true,
      vision: false,
      tools: false,
      aliases: [],
      estimated: true,
    });
  });

  it('GLM_MODELS / KIMI_MODELS: plain ids restrict, +ids extend, empty means the catalogue', () => {
    const defaults = ['a', 'b'];
    expect(configuredModels([], defaults)).toEqual(['a', 'b']);
    expect(configuredModels(['b'], defaults)).toEqual(['b']);
    expect(configuredModels(['+c'], defaults)).toEqual(['a', 'b', 'c']);
    expect(configuredModels(['b', '+c'], defaults)).toEqual(['b', 'c']);
  });

  it('the simulator serves every catalogue model, with the same vision flag', () => {
    for (const [provider, specs] of [
      ['glm', GLM_MODEL_SPECS],
      ['kimi', KIMI_MODEL_SPECS],
    ] as const) {
      for (const spec of specs) {
        const sim = SIM_MODELS[provider].find((m) => m.id === spec.id);
        expect([spec.id, sim?.vision ?? false]).toEqual([spec.id, spec.vision]);
      }
    }
  });
});
