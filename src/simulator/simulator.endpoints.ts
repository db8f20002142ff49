import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import {
  ProviderEndpoint,
  ProviderEndpoints,
  RealProviderEndpoints,
  SimulatedEndpoints,
  SimulatedEndpointsFactory,
} from '../providers/provider-endpoints';
import type { ProviderSettings } from '../providers/providers.config';
import { simulatorConfig } from './simulator.config';
import { ProviderSimulator, SIM_DEFAULT_KEYS } from './simulator.server';
import { SIM_PROVIDERS, SimProvider } from './simulator.types';

const API_NAMES: Record<SimProvider, string> = { glm: 'GLM', kimi: 'Kimi' };

/**
 * A provider whose id names one of the simulator's APIs (`GLM` → glm)
 * answers from it. The simulator cannot stand in for any other provider (an
 * extension's), so that one keeps its real API when it has a key.
 */
class EmbeddedSimulatorEndpoints extends ProviderEndpoints implements SimulatedEndpoints {
  readonly mode = 'simulated';
  private readonly real = new RealProviderEndpoints();

  constructor(private readonly simulator: ProviderSimulator) {
    super();
  }

  get description(): string {
    return `${SIM_PROVIDERS.map((p) => API_NAMES[p]).join(' and ')} answer from the embedded simulator at ${this.simulator.url}`;
  }

  endpointFor(id: string, api: ProviderSettings): ProviderEndpoint | undefined {
    const simulated = SIM_PROVIDERS.find((p) => p === id.toLowerCase());
    if (simulated === undefined) return this.real.endpointFor(id, api);
    return { baseUrl: this.simulator.baseUrlOf(simulated), apiKey: SIM_DEFAULT_KEYS[simulated][0], mode: 'simulated' };
  }
}

/** Runs the daemon's embedded simulator on an ephemeral loopback port, for as long as the daemon runs. */
@Injectable()
export class EmbeddedSimulator extends SimulatedEndpointsFactory implements OnModuleDestroy {
  private simulator: ProviderSimulator | undefined;

  constructor(@Inject(simulatorConfig.KEY) private readonly config: ConfigType<typeof simulatorConfig>) {
    super();
  }

  async create(): Promise<SimulatedEndpoints> {
    const simulator = new ProviderSimulator({ capacity: this.config.capacity });
    await simulator.start(0, '127.0.0.1');
    this.simulator = simulator;
    return new EmbeddedSimulatorEndpoints(simulator);
  }

  async onModuleDestroy(): Promise<void> {
    await this.simulator?.stop();
  }
}
