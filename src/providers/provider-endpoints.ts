import { Logger } from '@nestjs/common';
import type { ProvidersConfig, ProviderSettings } from './providers.config';

export interface ProviderEndpoint {
  baseUrl: string;
  apiKey: string;
  mode: 'real' | 'simulated';
}

/**
 * Where each provider's requests go, chosen once at boot from
 * EXAI_PROVIDERS_MODE (`selectEndpoints`). A provider asks with its id and
 * its configured API and never learns which kind answered, so a provider
 * added by an extension plugs in the same way.
 */
export abstract class ProviderEndpoints {
  abstract readonly mode: 'real' | 'simulated';

  /** The endpoint of provider `id`, whose real API is `api`; undefined leaves the provider unconfigured. */
  abstract endpointFor(id: string, api: ProviderSettings): ProviderEndpoint | undefined;
}

/** The real APIs: a provider with an API key is configured, one without is not. */
export class RealProviderEndpoints extends ProviderEndpoints {
  readonly mode = 'real';
  private readonly logger = new Logger('ProviderEndpoints');

  endpointFor(id: string, api: ProviderSettings): ProviderEndpoint | undefined {
    if (api.apiKey) return { baseUrl: api.baseUrl.replace(/\/+$/, ''), apiKey: api.apiKey, mode: 'real' };
    this.logger.warn(`${id} is not configured (no API key); calls route to the other provider`);
    return undefined;
  }
}

/** Simulated endpoints and what to tell the operator about them. */
export interface SimulatedEndpoints extends ProviderEndpoints {
  readonly mode: 'simulated';
  /** Which providers answer from where, for the boot warning. */
  readonly description: string;
}

/**
 * Starts simulated provider APIs. The simulator module provides it (the
 * daemon loads it in app.module.ts), so providers never depend on the
 * simulator itself.
 */
export abstract class SimulatedEndpointsFactory {
  abstract create(): Promise<SimulatedEndpoints>;
}

/** Nest factory of `ProviderEndpoints`: simulated when the mode asks for it, else the real APIs. */
export async function selectEndpoints(
  config: ProvidersConfig,
  simulated: SimulatedEndpointsFactory | undefined,
): Promise<ProviderEndpoints> {
  if (!config.simulate) return new RealProviderEndpoints();
  if (!simulated) throw new Error(`EXAI_PROVIDERS_MODE=${config.mode} needs the simulator module, which is not loaded`);
  const endpoints = await simulated.create();
  const why = config.mode === 'auto' ? 'no API key is set (EXAI_PROVIDERS_MODE=auto)' : 'EXAI_PROVIDERS_MODE=simulated';
  new Logger('ProviderEndpoints').warn(`SIMULATED PROVIDERS: ${why}; ${endpoints.description}, not real models`);
  return endpoints;
}
