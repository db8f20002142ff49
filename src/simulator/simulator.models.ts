import type { SimModel, SimProvider } from './simulator.types';

const K128 = 131_072;
const K200 = 204_800;
const K256 = 262_144;
const SIZES = { '8k': 8_192, '32k': 32_768, '128k': K128 } as const;

// docs/providers.md §2.2 / §3.2 (late-2025 line-ups); the real clients must not hard-code these.
const GLM_MODELS: readonly SimModel[] = [
  { id: 'glm-4.5', contextWindow: K128, thinking: true, defaultTemperature: 0.6, maxOutput: 98_304 },
  { id: 'glm-4.5-air', contextWindow: K128, thinking: true, defaultTemperature: 0.6, maxOutput: 98_304 },
  { id: 'glm-4.5-airx', contextWindow: K128, thinking: true, defaultTemperature: 0.6, maxOutput: 98_304 },
  { id: 'glm-4.5-flash', contextWindow: K128, thinking: true, defaultTemperature: 0.6, maxOutput: 98_304 },
  { id: 'glm-4.5v', contextWindow: 65_536, thinking: true, defaultTemperature: 0.6, maxOutput: 16_384, vision: true },
  { id: 'glm-4.6', contextWindow: K200, thinking: true, defaultTemperature: 1.0, maxOutput: K128 },
  { id: 'glm-4.7', contextWindow: K200, thinking: true, defaultTemperature: 1.0, maxOutput: K128 },
  { id: 'glm-4-32b-0414-128k', contextWindow: K128, thinking: false, defaultTemperature: 0.75, maxOutput: 16_384 },
];

// Kimi has no max_tokens range check beyond the context window, so maxOutput is the window.
const KIMI_MODELS: readonly SimModel[] = [
  { id: 'kimi-k2-0905-preview', contextWindow: K256, thinking: false, defaultTemperature: 0.6, maxOutput: K256 },
  { id: 'kimi-k2-0711-preview', contextWindow: K128, thinking: false, defaultTemperature: 0.6, maxOutput: K128 },
  { id: 'kimi-k2-turbo-preview', contextWindow: K256, thinking: false, defaultTemperature: 0.6, maxOutput: K256 },
  { id: 'kimi-k2-thinking', contextWindow: K256, thinking: true, defaultTemperature: 1.0, maxOutput: K256 },
  { id: 'kimi-k2-thinking-turbo', contextWindow: K256, thinking: true, defaultTemperature: 1.0, maxOutput: K256 },
  {
    id: 'kimi-thinking-preview',
    contextWindow: K128,
    thinking: true,
    defaultTemperature: 1.0,
    maxOutput: K128,
    vision: true,
  },
  { id: 'kimi-latest', contextWindow: K128, thinking: false, defaultTemperature: 0.3, maxOutput: K128, vision: true },
  ...(['8k', '32k', '128k'] as const).map((size) => ({
    id: `kimi-latest-${size}`,
    contextWindow: SIZES[size],
    thinking: false,
    defaultTemperature: 0.3,
    maxOutput: SIZES[size],
    vision: true,
  })),
  { id: 'moonshot-v1-8k', contextWindow: 8_192, thinking: false, defaultTemperature: 0.0, maxOutput: 8_192 },
  { id: 'moonshot-v1-32k', contextWindow: 32_768, thinking: false, defaultTemperature: 0.0, maxOutput: 32_768 },
  { id: 'moonshot-v1-128k', contextWindow: K128, thinking: false, defaultTemperature: 0.0, maxOutput: K128 },
  { id: 'moonshot-v1-auto', contextWindow: K128, thinking: false, defaultTemperature: 0.0, maxOutput: K128 },
  ...(['8k', '32k', '128k'] as const).map((size) => ({
    id: `moonshot-v1-${size}-vision-preview`,
    contextWindow: SIZES[size],
    thinking: false,
    defaultTemperature: 0.0,
    maxOutput: SIZES[size],
    vision: true,
  })),
];

export const SIM_MODELS: Readonly<Record<SimProvider, readonly SimModel[]>> = { glm: GLM_MODELS, kimi: KIMI_MODELS };

export const SIM_MODEL_OWNERS: Readonly<Record<SimProvider, string>> = { glm: 'z-ai', kimi: 'moonshot' };

/** A fixed `created` for model entries so `/models` is byte-for-byte stable. */
export const SIM_MODEL_CREATED = 1_758_000_000;

export function findSimModel(provider: SimProvider, id: string): SimModel | undefined {
  return SIM_MODELS[provider].find((m) => m.id === id);
}
