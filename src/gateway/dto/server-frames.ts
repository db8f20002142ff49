export interface TextOutput {
  type: 'text';
  text: string;
}

export interface CallToolResultFrame {
  op: 'call_tool_res';
  request_id: string;
  outputs: TextOutput[];
  text?: string;
  from_cache?: true;
}

export interface CallToolErrorFrame {
  op: 'call_tool_res';
  request_id: string;
  error: { code: string; message: string } & Record<string, unknown>;
}

export interface ProgressFrame {
  op: 'progress';
  request_id: string;
  name: string;
  t: number;
  note?: 'accepted' | 'queued';
  message?: string;
  level?: string;
  waiting_for?: string;
  position?: number;
}

export interface CallToolAckFrame {
  op: 'call_tool_ack';
  request_id: string;
  accepted: true;
  timeout: number;
  name: string;
  joined?: string;
}

export type CallFrame = CallToolResultFrame | CallToolErrorFrame | ProgressFrame | CallToolAckFrame;

export function epochSeconds(ms = Date.now()): number {
  return Math.round(ms) / 1000;
}
