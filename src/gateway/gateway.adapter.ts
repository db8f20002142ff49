import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { EMPTY, Observable } from 'rxjs';
import type { WebSocket } from 'ws';
import { RATE_LIMITED_EVENT } from './gateway.constants';
import { ConnectionsService } from './connections.service';
import { HandshakeService } from './handshake.service';
import { parseWsFrame, ParsedFrame } from './ws-message.parser';

interface WsMessageEvent {
  data: string | Buffer | ArrayBuffer | Buffer[];
  target: WebSocket;
}

export interface GatewayAdapterOptions {
  maxPayload: number;
}

/**
 * platform-ws adapter with the EXAI front door: frame parsing that never
 * drops a frame, the synchronous hello handshake, and the per-connection rate
 * limit. Everything after that is dispatched to the gateway's handlers.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly connections: ConnectionsService;
  private readonly handshake: HandshakeService;

  constructor(
    app: INestApplicationContext,
    private readonly gatewayOptions: GatewayAdapterOptions,
  ) {
    super(app, { messageParser: parseWsFrame });
    this.connections = app.get(ConnectionsService);
    this.handshake = app.get(HandshakeService);
  }

  override create(
    port: number,
    options?: Record<string, unknown> & { namespace?: string; server?: unknown; path?: string },
  ): unknown {
    // ws closes with 1009 by itself once a frame exceeds maxPayload.
    return super.create(port, { ...(options ?? {}), maxPayload: this.gatewayOptions.maxPayload });
  }

  override bindMessageHandler(
    event: WsMessageEvent,
    handlers: Map<string, MessageMappingProperties>,
    transform: (data: unknown) => Observable<unknown>,
  ): Observable<unknown> {
    const conn = this.connections.get(event.target);
    if (!conn || conn.phase === 'closing') return EMPTY;
    const parsed = this.messageParser(event.data) as ParsedFrame;
    if (conn.phase === 'awaiting_hello') {
      this.handshake.handleFirstFrame(conn, parsed);
      return EMPTY;
    }
    const wait = conn.bucket.take();
    const dispatched =
      wait > 0
        ? { event: RATE_LIMITED_EVENT, data: { retryAfterSecs: Math.max(0.1, Math.ceil(wait * 10) / 10) } }
        : parsed;
    const handler = handlers.get(dispatched.event);
    if (!handler) return EMPTY;
    return transform(handler.callback(dispatched.data, dispatched.event));
  }
}
