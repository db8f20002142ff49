import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { providersConfig, ProviderSettings } from './providers.config';
import { ProviderSimulator } from './simulator/provider-simulator';

export type ProviderId = 'GLM' | 'KIMI';

export interface ProviderEndpoint {
  baseUrl: string;
  apiKey: string;
  mode: 'real' | 'simulated';
}

const SIMULATOR_KEYS: Record<ProviderId, string> = { GLM: 'sim-glm-key', KIMI: 'sim-kimi-key' };

/**
 * Decides, once at boot, where each provider's requests go: the real API when
 * its key is set, the embedded simulator when EXAI_PROVIDERS_MODE says so (or
 * `auto` finds no key at all), or nowhere (unconfigured).
 */
@Injectable()
export class ProviderEndpointsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ProviderEndpointsService.name);
  private readonly endpoints = new Map<ProviderId, ProviderEndpoint>();
  private simulator: ProviderSimulator | undefined;
  mode: 'real' | 'simulated' = 'real';

  constructor(@Inject(providersConfig.KEY) private readonly config: ConfigType<typeof providersConfig>) {}

  async onModuleInit(): Promise<void> {
    const settings: Record<ProviderId, ProviderSettings> = { GLM: this.config.glm, KIMI: this.config.kimi };
    const anyKey = Object.values(settings).some((s) => !!s.apiKey);
    const simulate = this.config.mode === 'simulated' || (this.config.mode === 'auto' && !anyKey);
    if (simulate) {
      this.simulator = new ProviderSimulator({
        keys: { glm: [SIMULATOR_KEYS.GLM], kimi: [SIMULATOR_KEYS.KIMI] },
        capacity: this.config.simulatorCapacity,
      });
      await this.simulator.start(0, '127.0.0.1');
      this.mode = 'simulated';
      this.endpoints.set('GLM', { baseUrl: this.simulator.glmBaseUrl, apiKey: SIMULATOR_KEYS.GLM, mode: 'simulated' });
      this.endpoints.set('KIMI', {
        baseUrl: this.simulator.kimiBaseUrl,
        apiKey: SIMULATOR_KEYS.KIMI,
        mode: 'simulated',
      });
      this.logger.warn(
        `SIMULATED PROVIDERS: no API key is set (EXAI_PROVIDERS_MODE=${this.config.mode}); GLM and Kimi answer from the embedded simulator at ${this.simulator.url}, not real models`,
      );
      return;
    }
    for (const id of ['GLM', 'KIMI'] as const) {
      const s = settings[id];
      if (s.apiKey) this.endpoints.set(id, { baseUrl: s.baseUrl.replace(/\/+$/, ''), apiKey: s.apiKey, mode: 'real' });
      else this.logger.warn(`${id} is not configured (no API key); calls route to the other provider`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.simulator?.stop();
  }

  get(id: ProviderId): ProviderEndpoint | undefined {
    return this.endpoints.get(id);
  }

  /** The embedded simulator, when this daemon runs one (tests script it through this). */
  get embeddedSimulator(): ProviderSimulator | undefined {
    return this.simulator;
  }
}
