import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { HealthModule } from '../health/health.module';
import { MemoryStateStore } from './memory-state.store';
import { RedisStateStore } from './redis-state.store';
import { stateConfig } from './state.config';
import { StateHealthIndicator } from './state.health';
import { StateStore } from './state-store';

/** The state store every feature keeps its session state in (threads, workflows, replays, results). */
@Module({
  imports: [HealthModule],
  providers: [
    {
      provide: StateStore,
      inject: [stateConfig.KEY],
      useFactory: (config: ConfigType<typeof stateConfig>): StateStore =>
        config.backend === 'redis' ? new RedisStateStore(config) : new MemoryStateStore(),
    },
    StateHealthIndicator,
  ],
  exports: [StateStore],
})
export class StateModule {}
