import type { ProviderSimulator } from '../../src/providers/simulator/provider-simulator';

/** Daemon environment pointing both real providers at a running simulator, with room for parallel calls. */
export function simulatorEnv(sim: ProviderSimulator): Record<string, string> {
  return {
    EXAI_PROVIDERS_MODE: 'real',
    GLM_API_KEY: 'sim-glm-key',
    KIMI_API_KEY: 'sim-kimi-key',
    GLM_API_URL: sim.glmBaseUrl,
    KIMI_API_URL: sim.kimiBaseUrl,
    EXAI_WS_GLOBAL_MAX_INFLIGHT: '16',
    EXAI_WS_SESSION_MAX_INFLIGHT: '16',
  };
}
