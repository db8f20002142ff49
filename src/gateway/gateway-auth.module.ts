import { Global, Module } from '@nestjs/common';
import { GatewayAuthService } from './gateway-auth.service';

/**
 * Global: one token for the WebSocket hello and the HTTP operator endpoints,
 * so a rotate_token applies to both.
 */
@Global()
@Module({
  providers: [GatewayAuthService],
  exports: [GatewayAuthService],
})
export class GatewayAuthModule {}
