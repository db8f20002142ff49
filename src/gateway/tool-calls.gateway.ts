import { UseFilters, UseInterceptors } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { forLog } from '../common/log-text';
import { MetricsService } from '../metrics/metrics.service';
import { ToolRegistryService, ToolListing } from '../tools/tool-registry.service';
import { ConnectionsService } from './connections.service';
import type {
  CallToolFrame,
  CancelFrame,
  InvalidFramePayload,
  ListToolsFrame,
  RotateTokenFrame,
  UnknownOpPayload,
} from './dto/client-frames';
import { GatewayAuthService } from '../auth/gateway-auth.service';
import { GatewayExceptionFilter } from './gateway-exception.filter';
import { GatewayStatusService } from './gateway-status.service';
import { CLIENT_OPS, INVALID_FRAME_EVENT, RATE_LIMITED_EVENT, UNKNOWN_OP_EVENT } from './gateway.constants';
import type { RateLimitedPayload } from './gateway.adapter';
import {
  InvalidJsonError,
  InvalidMessageError,
  RateLimitedCallError,
  RateLimitedError,
  UnknownOpError,
} from './gateway.errors';
import { HandshakeService } from './handshake.service';
import { CallLifecycleInterceptor } from './call-lifecycle.interceptor';
import { CallPlan, CallPlanner } from './call-planner';
import { CallRegistry } from './call-registry';
import { CallLogService } from '../logging/call-log.service';

/**
 * The EXAI protocol's handlers. Parsing, the hello and the rate limit happen
 * in GatewayWsAdapter; each handler here only sees well-formed frames of a
 * connection that completed its hello.
 */
@WebSocketGateway()
@UseInterceptors(CallLifecycleInterceptor)
@UseFilters(GatewayExceptionFilter)
export class ToolCallsGateway implements OnGatewayConnection, OnGatewayDisconnect {
  /** Every connection writes this line: it skips redaction (see CallLogService), the bulk of a line's cost. */
  private readonly disconnected: (fields: { session_id: string; connection_id: string }) => void;

  constructor(
    private readonly connections: ConnectionsService,
    private readonly handshake: HandshakeService,
    private readonly auth: GatewayAuthService,
    private readonly tools: ToolRegistryService,
    private readonly planner: CallPlanner,
    private readonly calls: CallRegistry,
    private readonly status: GatewayStatusService,
    private readonly metrics: MetricsService,
    lines: CallLogService,
  ) {
    this.disconnected = lines.line(ToolCallsGateway.name, 'Client disconnected');
  }

  handleConnection(socket: WebSocket, request?: IncomingMessage): void {
    this.connections.open(socket, request, (conn) => this.handshake.onHelloTimeout(conn));
  }

  handleDisconnect(socket: WebSocket): void {
    const conn = this.connections.close(socket);
    if (conn) this.calls.forget(conn);
    if (conn?.sessionId) {
      this.disconnected({ session_id: conn.sessionId, connection_id: conn.id });
    }
  }

  @SubscribeMessage('hello')
  repeatedHello(): never {
    throw new InvalidMessageError('hello already completed on this connection');
  }

  @SubscribeMessage('list_tools')
  listTools(@MessageBody() frame: ListToolsFrame): { op: 'list_tools_res'; tools: ToolListing[]; request_id?: string } {
    const reply: { op: 'list_tools_res'; tools: ToolListing[]; request_id?: string } = {
      op: 'list_tools_res',
      tools: this.tools.list(),
    };
    if (frame.request_id !== undefined) reply.request_id = frame.request_id;
    return reply;
  }

  /**
   * Answers with the call's plan: answered at once, joining a running
   * execution, or a new run. CallLifecycleInterceptor runs the plan.
   */
  @SubscribeMessage('call_tool')
  callTool(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: CallToolFrame): Promise<CallPlan> {
    return this.planner.plan(socket, frame);
  }

  @SubscribeMessage('cancel')
  cancel(@ConnectedSocket() socket: WebSocket, @MessageBody() frame: CancelFrame): void {
    this.calls.cancel(this.connections.get(socket)?.sessionId, frame.request_id);
  }

  @SubscribeMessage('health')
  health(): Promise<{ op: 'health_res'; ok: true; health: Record<string, unknown> }> {
    return this.status.healthFrame();
  }

  @SubscribeMessage('rotate_token')
  rotateToken(@MessageBody() frame: RotateTokenFrame): Record<string, unknown> {
    return { op: 'rotate_token_res', ...this.auth.rotate(frame.old, frame.new) };
  }

  @SubscribeMessage(INVALID_FRAME_EVENT)
  invalidFrame(@MessageBody() payload: InvalidFramePayload): never {
    throw payload.reason === 'invalid_json' ? new InvalidJsonError() : new InvalidMessageError(payload.detail);
  }

  @SubscribeMessage(UNKNOWN_OP_EVENT)
  unknownOp(@MessageBody() payload: UnknownOpPayload): never {
    throw new UnknownOpError(forLog(payload.op, 64));
  }

  /**
   * A frame over the connection's rate, answered in its own kind so nothing
   * waits forever: a call_tool ends in its call_tool_res, a health request in
   * a health_res, anything else in an error frame naming its request_id.
   */
  @SubscribeMessage(RATE_LIMITED_EVENT)
  rateLimited(@MessageBody() payload: RateLimitedPayload): Record<string, unknown> {
    const op = (CLIENT_OPS as readonly string[]).includes(payload.op) ? payload.op : 'other';
    this.metrics.wsRateLimited.inc({ op });
    if (payload.op === 'call_tool') throw new RateLimitedCallError(payload.retryAfterSecs);
    if (payload.op === 'health') {
      return { op: 'health_res', ok: false, error: 'RATE_LIMITED', retry_after: payload.retryAfterSecs };
    }
    throw new RateLimitedError(payload.retryAfterSecs, payload.request_id);
  }
}
