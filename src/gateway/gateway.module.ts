import { Module } from '@nestjs/common';
import { ConcurrencyModule } from '../concurrency/concurrency.module';
import { HealthModule } from '../health/health.module';
import { ToolsModule } from '../tools/tools.module';
import { ConnectionsService } from './connections.service';
import { GatewayAuthService } from './gateway-auth.service';
import { GatewayHealthIndicator } from './gateway.health';
import { GatewayShutdownService } from './gateway-shutdown.service';
import { GatewayStatusService } from './gateway-status.service';
import { HandshakeService } from './handshake.service';
import { ResultCacheService } from './result-cache.service';
import { SemaphoreGuardInterceptor } from './semaphore-guard.interceptor';
import { ToolCallsGateway } from './tool-calls.gateway';
import { ToolCallsService } from './tool-calls.service';

@Module({
  imports: [HealthModule, ToolsModule, ConcurrencyModule],
  providers: [
    ConnectionsService,
    GatewayAuthService,
    HandshakeService,
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
