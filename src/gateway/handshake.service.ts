import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ClientConnection } from './client-connection';
import { SESSION_ID_PATTERN } from '../common/session-id';
import { CloseCode, INVALID_FRAME_EVENT } from './gateway.constants';
import { ConnectionsService } from './connections.service';
import { GatewayAuthService } from '../auth/gateway-auth.service';
import { HelloBackoffService } from './hello-backoff.service';
import { RefusalLogService, RefusalReason } from './refusal-log.service';
import type { HelloFrame } from './dto/client-frames';
import type { ParsedFrame } from './ws-message.parser';
import { CallLogService } from '../logging/call-log.service';

/**
 * Runs the hello handshake. It is synchronous on purpose: the adapter calls it
 * for a connection's first frame, and every later frame must already see the
 * connection as ready (ws can deliver several frames in one tick).
 */
@Injectable()
export class HandshakeService {
  /** Every connection writes this line: it skips redaction (see CallLogService), the bulk of a line's cost. */
  private readonly connected: (fields: { session_id: string; connection_id: string; ip: string }) => void;

  constructor(
    private readonly connections: ConnectionsService,
    private readonly auth: GatewayAuthService,
    private readonly backoff: HelloBackoffService,
    private readonly refusals: RefusalLogService,
    lines: CallLogService,
  ) {
    this.connected = lines.line(HandshakeService.name, 'Client connected');
  }

  handleFirstFrame(conn: ClientConnection, frame: ParsedFrame): void {
    if (frame.event === INVALID_FRAME_EVENT && (frame.data.reason === 'invalid_json' || frame.data.op === 'hello')) {
      return this.refuse(conn, 'invalid_hello', CloseCode.INVALID_HELLO, 'invalid hello');
    }
    if (frame.event !== 'hello') {
      return this.refuse(conn, 'missing_hello', CloseCode.MISSING_HELLO, 'missing hello');
    }
    const hello = frame.data as HelloFrame;
    if (!this.auth.accepts(hello.token)) {
      return this.refuse(conn, 'unauthorized', CloseCode.UNAUTHORIZED, 'unauthorized');
    }
    const sessionId =
      hello.session_id !== undefined && SESSION_ID_PATTERN.test(hello.session_id) ? hello.session_id : randomUUID();
    this.backoff.succeeded(conn.ip);
    this.connections.joinSession(conn, sessionId);
    conn.send({ op: 'hello_ack', ok: true, session_id: sessionId });
    this.connected({ session_id: sessionId, connection_id: conn.id, ip: conn.ip });
  }

  onHelloTimeout(conn: ClientConnection): void {
    if (conn.phase !== 'awaiting_hello') return;
    this.failed(conn, 'hello_timeout');
    this.connections.refusePending(conn, CloseCode.HELLO_TIMEOUT, 'hello timeout or disconnect');
  }

  private refuse(conn: ClientConnection, error: RefusalReason, code: number, reason: string): void {
    this.failed(conn, error);
    conn.send({ op: 'hello_ack', ok: false, error });
    this.connections.refusePending(conn, code, reason);
  }

  /** Counted for the address's backoff, and logged only in the rate-limited refusal summary. */
  private failed(conn: ClientConnection, reason: RefusalReason): void {
    this.backoff.failed(conn.ip);
    this.refusals.record(reason, conn.ip);
  }
}
