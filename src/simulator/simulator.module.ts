import { Global, Module } from '@nestjs/common';
import { SimulatedEndpointsFactory } from '../providers/provider-endpoints';
import { EmbeddedSimulator } from './simulator.endpoints';

/**
 * Offers the providers simulated endpoints (EXAI_PROVIDERS_MODE). Global so
 * that the providers module finds the factory without importing the
 * simulator; the simulator only starts when the mode asks for it.
 */
@Global()
@Module({
  providers: [{ provide: SimulatedEndpointsFactory, useClass: EmbeddedSimulator }],
  exports: [SimulatedEndpointsFactory],
})
export class SimulatorModule {}
