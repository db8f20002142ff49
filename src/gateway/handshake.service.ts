import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ClientConnection } from './client-connection';
import { CloseCode, INVALID_FRAME_EVENT, SESSION_ID_PATTERN } from './gateway.constants';
import { ConnectionsService } from './connections.service';
import { GatewayAuthService } from './gateway-auth.service';
import type { HelloFrame } from './dto/client-frames';
import type { ParsedFrame } from './ws-message.parser';

/**
 * Runs the hello handshake. It is synchronous on purpose: the adapter calls it
 * for a connection's first frame, and every later frame must already see the
 * connection as ready (ws can deliver several frames in one tick).
 */
@Injectable()
export class HandshakeService {
  private readonly logger = new Logger(HandshakeService.name);

  constructor(
    private readonly connections: ConnectionsService,
    private readonly auth: GatewayAuthService,
  ) {}

  handleFirstFrame(conn: ClientConnection, frame: ParsedFrame): void {
    if (frame.event === INVALID_FRAME_EVENT && frame.data.reason === 'invalid_json') {
      return this.refuse(conn, 'invalid_hello', CloseCode.INVALID_HELLO, 'invalid hello');
    }
    if (frame.event !== 'hello') {
      return this.refuse(conn, 'missing_hello', CloseCode.MISSING_HELLO, 'missing hello');
    }
    const hello = frame.data as HelloFrame;
    if (!this.auth.accepts(hello.token)) {
      this.logger.warn(`Unauthorized hello from ${conn.ip}`);
      return this.refuse(conn, 'unauthorized', CloseCode.UNAUTHORIZED, 'unauthorized');
    }
    const sessionId =
      hello.session_id !== undefined && SESSION_ID_PATTERN.test(hello.session_id) ? hello.session_id : randomUUID();
    this.connections.joinSession(conn, sessionId);
    conn.send({ op: 'hello_ack', ok: true, session_id: sessionId });
    this.logger.log({ msg: 'Client connected', session_id: sessionId, connection_id: conn.id, ip: conn.ip });
  }

  onHelloTimeout(conn: ClientConnection): void {
    if (conn.phase !== 'awaiting_hello') return;
    conn.close(CloseCode.HELLO_TIMEOUT, 'hello timeout or disconnect');
  }

  private refuse(conn: ClientConnection, error: string, code: number, reason: string): void {
    conn.send({ op: 'hello_ack', ok: false, error });
    conn.close(code, reason);
  }
}
