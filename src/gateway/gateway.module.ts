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
import { SemaphoreGuardInterceptor } from './semaphore-guard.interceptor';
import { ToolCallsGateway } from './tool-calls.gateway';
import { ToolCallsService } from './tool-calls.service';

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
    ToolCallsService,
    SemaphoreGuardInterceptor,
    GatewayStatusService,
    GatewayShutdownService,
    GatewayHealthIndicator,
    ToolCallsGateway,
  ],
  exports: [ConnectionsService, ToolCallsService],
})
export class GatewayModule {}
