export interface HelloFrame {
  op: 'hello';
  token?: string;
  session_id?: string;
}

export interface ListToolsFrame {
  op: 'list_tools';
  request_id?: string;
}

export interface CallToolFrame {
  op: 'call_tool';
  name: string;
  request_id?: string;
  arguments?: Record<string, unknown>;
}

export interface CancelFrame {
  op: 'cancel';
  request_id: string;
}

export interface HealthFrame {
  op: 'health';
}

export interface RotateTokenFrame {
  op: 'rotate_token';
  old: string;
  new: string;
}

export type ClientFrame = HelloFrame | ListToolsFrame | CallToolFrame | CancelFrame | HealthFrame | RotateTokenFrame;

/** Payload of the reserved events for frames that cannot be dispatched. */
export interface InvalidFramePayload {
  reason: 'invalid_json' | 'invalid_message';
  detail: string;
  /** The frame's op, when it had a known one (a malformed hello is `invalid_hello`). */
  op?: string;
}

export interface UnknownOpPayload {
  op: string;
}
