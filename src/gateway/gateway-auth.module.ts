import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { GatewayAuthService } from '../auth/gateway-auth.service';
import { gatewayConfig } from './gateway.config';

/**
 * Global: one token for the WebSocket hello and the HTTP operator endpoints,
 * so a rotate_token applies to both.
 */
@Global()
@Module({
  providers: [
    {
      provide: GatewayAuthService,
      inject: [gatewayConfig.KEY],
      useFactory: (config: ConfigType<typeof gatewayConfig>) => new GatewayAuthService(config.token),
    },
  ],
  exports: [GatewayAuthService],
})
export class GatewayAuthModule {}
