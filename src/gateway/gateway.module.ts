import { Module } from '@nestjs/common';
import { ActivityModule } from '../activity/activity.module';
import { ConcurrencyModule } from '../concurrency/concurrency.module';
import { HealthModule } from '../health/health.module';
import { StateModule } from '../state/state.module';
import { ToolsModule } from '../tools/tools.module';
import { ClientAddressService } from './client-address.service';
import { ConnectionsService } from './connections.service';
import { GatewayHealthIndicator } from './gateway.health';
import { GatewayShutdownService } from './gateway-shutdown.service';
import { GatewayStatusService } from './gateway-status.service';
import { GatewayExceptionFilter } from './gateway-exception.filter';
import { HandshakeService } from './handshake.service';
import { HelloBackoffService } from './hello-backoff.service';
import { RefusalLogService } from './refusal-log.service';
import { UpgradeGuardService } from './upgrade-guard.service';
import { ResultCacheService } from './result-cache.service';
import { CallFrames } from './call-frames';
import { CallLifecycle } from './call-lifecycle';
import { CallLifecycleInterceptor } from './call-lifecycle.interceptor';
import { CallPlanner } from './call-planner';
import { CallRegistry } from './call-registry';
import { ToolCallsGateway } from './tool-calls.gateway';

@Module({
  imports: [HealthModule, ToolsModule, ConcurrencyModule, ActivityModule, StateModule],
  providers: [
    ClientAddressService,
    ConnectionsService,
    HandshakeService,
    HelloBackoffService,
    RefusalLogService,
    UpgradeGuardService,
    GatewayExceptionFilter,
    ResultCacheService,
    CallRegistry,
    CallFrames,
    CallPlanner,
    CallLifecycle,
    CallLifecycleInterceptor,
    GatewayStatusService,
    GatewayShutdownService,
    GatewayHealthIndicator,
    ToolCallsGateway,
  ],
  exports: [ConnectionsService, CallRegistry],
})
export class GatewayModule {}
