import { ModelSpec, modelSpec } from '../model-catalogue';

const ALL = { thinking: true, tools: true };

/**
 * GLM models the gateway knows. Windows and output caps are Z.ai's documented
 * figures, and thinking exists on the whole GLM-4.5 series and later. Only
 * glm-4.5v takes images: the old daemon flagged every GLM model as
 * image-capable but never sent one, so its flag was never put to the test.
 */
export const GLM_MODEL_SPECS: readonly ModelSpec[] = [
  modelSpec('glm-4.6', 200_000, 131_072, ALL),
  modelSpec('glm-4.5', 128_000, 98_304, ALL),
  modelSpec('glm-4.5-air', 128_000, 98_304, ALL, ['glm-4.5-x']),
  modelSpec('glm-4.5-flash', 128_000, 98_304, ALL),
  modelSpec('glm-4.5v', 65_536, 16_384, { ...ALL, vision: true }),
  modelSpec('glm-4.7', 200_000, 131_072, ALL),
];
