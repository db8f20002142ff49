import type { ProviderSimulator } from '../../src/simulator/simulator.server';
import { simulatorEnv as providersAtSimulator } from './daemon';

/** Daemon environment pointing both real providers at a running simulator, with room for parallel calls. */
export function simulatorEnv(sim: ProviderSimulator): Record<string, string> {
  return {
    ...providersAtSimulator(sim),
    EXAI_WS_GLOBAL_MAX_INFLIGHT: '16',
    EXAI_WS_SESSION_MAX_INFLIGHT: '16',
  };
}
