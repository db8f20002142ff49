import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { ToolOutput, ToolResult } from '../tools/tool.types';
import { CallFrame, CallToolResultFrame, epochSeconds, ProgressFrame, TextOutput } from './dto/server-frames';
import { gatewayConfig } from './gateway.config';
import type { CallParticipant, ExecutionEvent, ToolExecution } from './tool-execution';

/**
 * A frame serialised once, where it has to be serialised anyway: a result
 * whose replay is stored is written to the store and to the socket as these
 * same bytes.
 */
export class EncodedFrame {
  readonly json: string;

  constructor(
    frame: CallFrame,
    readonly op = frame.op,
  ) {
    this.json = JSON.stringify(frame);
  }
}

/** What a call's stream carries to its socket. */
export type OutFrame = CallFrame | EncodedFrame;

/** The frames of a call, built from its execution's events for one caller. */
@Injectable()
export class CallFrames {
  constructor(@Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>) {}

  /** A starter hears `accepted` at once; a joiner gets its own ack naming the call it joined. */
  opening(p: CallParticipant, execution: ToolExecution): CallFrame {
    if (!p.joined)
      return { op: 'progress', request_id: p.requestId, name: p.toolName, t: epochSeconds(), note: 'accepted' };
    return {
      op: 'call_tool_ack',
      request_id: p.requestId,
      accepted: true,
      timeout: execution.plan.timeoutSecs,
      name: p.toolName,
      joined: execution.plan.origin.requestId,
    };
  }

  heartbeat(p: CallParticipant): ProgressFrame {
    return { op: 'progress', request_id: p.requestId, name: p.toolName, t: epochSeconds() };
  }

  frameFor(ev: ExecutionEvent, p: CallParticipant): CallFrame {
    switch (ev.kind) {
      case 'queued':
        return {
          op: 'progress',
          request_id: p.requestId,
          name: p.toolName,
          t: epochSeconds(),
          note: 'queued',
          waiting_for: ev.waitingFor,
          position: ev.position,
        };
      case 'admitted':
        return {
          op: 'call_tool_ack',
          request_id: p.requestId,
          accepted: true,
          timeout: ev.timeoutSecs,
          name: p.toolName,
        };
      case 'progress':
        return {
          op: 'progress',
          request_id: p.requestId,
          name: p.toolName,
          t: epochSeconds(),
          message: ev.message,
          level: ev.level,
        };
      case 'result':
        return this.result(p.requestId, ev.outputs);
    }
  }

  result(requestId: string, outputs: TextOutput[]): CallToolResultFrame {
    const frame: CallToolResultFrame = { op: 'call_tool_res', request_id: requestId, outputs };
    if (this.config.compatText) frame.text = outputs.map((o) => o.text).join('\n\n');
    return frame;
  }

  /** The tool's result as the wire `ToolOutput` the old shim parses from each output's text. */
  output(execution: ToolExecution, result: ToolResult): TextOutput {
    const output: ToolOutput = {
      status: 'success',
      content: result.content,
      content_type: result.contentType ?? 'text',
      metadata: {
        tool: execution.tool.name,
        ...(result.metadata ?? {}),
        duration_ms: Date.now() - execution.startedAt,
      },
    };
    return { type: 'text', text: JSON.stringify(output) };
  }
}
