import { ModelSpec, modelSpec } from '../model-catalogue';

const K8 = 8_192;
const K32 = 32_768;
const K128 = 131_072;
const K256 = 262_144;
const TOOLS = { tools: true };
const THINKING = { thinking: true, tools: true };
const VISION = { vision: true, tools: true };

/**
 * Kimi (Moonshot) models the gateway knows, with the old daemon's names and
 * aliases. Moonshot caps output only by the context window; maxOutput is the
 * per-call cap the old daemon used. K2 models are text-only (the old table
 * claimed vision for some; Moonshot's K2 takes no images), and moonshot-v1
 * text models do take function tools.
 */
export const KIMI_MODEL_SPECS: readonly ModelSpec[] = [
  modelSpec('kimi-k2-0905-preview', K256, K8, TOOLS, ['kimi-k2-0905', 'kimi-k2']),
  modelSpec('kimi-k2-0711-preview', K128, K8, TOOLS, ['kimi-k2-0711']),
  modelSpec('kimi-k2-turbo-preview', K256, K8, TOOLS, ['kimi-k2-turbo']),
  modelSpec('kimi-k2-thinking', K256, K32, THINKING),
  modelSpec('kimi-k2-thinking-turbo', K256, K32, THINKING),
  modelSpec('kimi-thinking-preview', K128, K8, { ...THINKING, vision: true }),
  modelSpec('kimi-latest', 128_000, K8, VISION),
  modelSpec('kimi-latest-8k', K8, 2_048, VISION),
  modelSpec('kimi-latest-32k', K32, 4_096, VISION),
  modelSpec('kimi-latest-128k', K128, K8, VISION),
  modelSpec('moonshot-v1-8k', K8, 2_048, TOOLS),
  modelSpec('moonshot-v1-32k', K32, 4_096, TOOLS),
  modelSpec('moonshot-v1-128k', 128_000, K8, TOOLS),
  modelSpec('moonshot-v1-8k-vision-preview', K8, 2_048, { vision: true }),
  modelSpec('moonshot-v1-32k-vision-preview', K32, 4_096, { vision: true }),
  modelSpec('moonshot-v1-128k-vision-preview', 128_000, K8, { vision: true }),
];
