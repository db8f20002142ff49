import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { CloseCode } from './gateway.constants';
import { gatewayConfig } from './gateway.config';
import { ShuttingDownError } from '../common/call.errors';
import { ConnectionsService } from './connections.service';
import { CallRegistry } from './call-registry';

/**
 * Runs before Nest closes the servers: refuse new sockets, end every call with
 * SHUTTING_DOWN, let those frames flush, then close each socket with 1001.
 */
@Injectable()
export class GatewayShutdownService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(GatewayShutdownService.name);

  constructor(
    @Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>,
    private readonly connections: ConnectionsService,
    private readonly calls: CallRegistry,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.connections.stopAccepting();
    const aborted = this.calls.abortAll(new ShuttingDownError());
    this.logger.log(`Shutting down${signal ? ` on ${signal}` : ''}: ended ${aborted} in-flight calls`);
    await this.waitForCalls(Math.min(2000, this.config.shutdownTimeoutMs));
    const open = this.connections.all();
    await Promise.all(open.map((conn) => this.closeAndWait(conn.socket, 1000)));
  }

  private async waitForCalls(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.calls.inFlight > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private closeAndWait(socket: import('ws').WebSocket, maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (socket.readyState === socket.CLOSED) return resolve();
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, maxMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(CloseCode.GOING_AWAY, 'server shutting down');
    });
  }
}
