import { ArgumentsHost, Catch, Injectable, Logger, WsExceptionFilter } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { forLog } from '../common/log-text';
import { ConnectionsService } from './connections.service';
import type { CallToolErrorFrame } from './dto/server-frames';
import { CallError, CallErrorCode } from '../common/call.errors';
import { FrameError } from './gateway.errors';

interface ErrorFrame {
  op: 'error';
  message: string;
}

/**
 * The single place where errors become wire frames. platform-ws only emits
 * exceptions locally on native sockets (nestjs/nest#9056), so this filter
 * writes the frame to the socket itself.
 */
@Catch()
@Injectable()
export class GatewayExceptionFilter implements WsExceptionFilter {
  private readonly logger = new Logger(GatewayExceptionFilter.name);

  constructor(private readonly connections: ConnectionsService) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const frame = this.toFrame(exception, ws.getData<Record<string, unknown> | undefined>(), ws.getPattern());
    // Through the connection, so an error frame obeys the same outbound bound as a result.
    this.connections.send(ws.getClient<WebSocket>(), frame);
  }

  toFrame(
    exception: unknown,
    data: Record<string, unknown> | undefined,
    pattern: string,
  ): ErrorFrame | CallToolErrorFrame {
    if (exception instanceof FrameError)
      return { op: 'error', message: exception.wireMessage, ...exception.wireFields() };
    if (pattern !== 'call_tool' && !(exception instanceof CallError)) {
      this.logger.error({ msg: `Unhandled error in ${pattern}`, err: exception });
      return { op: 'error', message: 'internal_error' };
    }
    const requestId = typeof data?.request_id === 'string' ? data.request_id : '';
    if (exception instanceof CallError) {
      return {
        op: 'call_tool_res',
        request_id: requestId,
        error: { code: exception.code, message: exception.message, ...exception.wireFields() },
      };
    }
    const message = exception instanceof Error ? exception.message : String(exception);
    const stack = exception instanceof Error && exception.stack ? forLog(exception.stack, 2000) : undefined;
    this.logger.warn({ msg: 'Tool failed', request_id: requestId, error: forLog(message), stack });
    return { op: 'call_tool_res', request_id: requestId, error: { code: CallErrorCode.EXEC_ERROR, message } };
  }
}
