import { CLIENT_OPS, ClientOp, INVALID_FRAME_EVENT, UNKNOWN_OP_EVENT } from './gateway.constants';
import type { ClientFrame, InvalidFramePayload, UnknownOpPayload } from './dto/client-frames';

export type ParsedFrame =
  | { event: ClientOp; data: ClientFrame }
  | { event: typeof INVALID_FRAME_EVENT; data: InvalidFramePayload }
  | { event: typeof UNKNOWN_OP_EVENT; data: UnknownOpPayload };

type RawWsData = string | Buffer | ArrayBuffer | Buffer[];

function toText(data: RawWsData): string {
  if (typeof data === 'string') return data;
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function invalid(detail: string): ParsedFrame {
  return { event: INVALID_FRAME_EVENT, data: { reason: 'invalid_message', detail } };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(frame: Record<string, unknown>, key: string): string | null {
  const v = frame[key];
  return v === undefined || typeof v === 'string' ? null : `"${key}" must be a string`;
}

function shapeProblem(op: ClientOp, frame: Record<string, unknown>): string | null {
  switch (op) {
    case 'hello':
      return optionalString(frame, 'token') ?? optionalString(frame, 'session_id');
    case 'list_tools':
      return optionalString(frame, 'request_id');
    case 'call_tool':
      if (typeof frame.name !== 'string' || frame.name.trim() === '')
        return 'call_tool needs a non-empty string "name"';
      if (frame.arguments !== undefined && !isPlainObject(frame.arguments)) return '"arguments" must be an object';
      return optionalString(frame, 'request_id');
    case 'cancel':
      return typeof frame.request_id === 'string' && frame.request_id !== ''
        ? null
        : 'cancel needs a non-empty string "request_id"';
    case 'rotate_token':
      return typeof frame.old === 'string' && typeof frame.new === 'string'
        ? null
        : 'rotate_token needs string "old" and "new"';
    case 'health':
      return null;
  }
}

/**
 * The adapter's message parser. It never throws and never returns nothing:
 * platform-ws drops such frames without a trace (nestjs/nest#17624), and the
 * protocol promises that a malformed frame is always answered.
 */
export function parseWsFrame(raw: RawWsData): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(toText(raw));
  } catch {
    return { event: INVALID_FRAME_EVENT, data: { reason: 'invalid_json', detail: 'invalid_json' } };
  }
  if (!isPlainObject(value)) return invalid('frame must be a JSON object');
  if (typeof value.op !== 'string') return invalid('missing string "op"');
  const op = value.op;
  if (!(CLIENT_OPS as readonly string[]).includes(op)) return { event: UNKNOWN_OP_EVENT, data: { op } };
  const problem = shapeProblem(op as ClientOp, value);
  if (problem) return invalid(problem);
  return { event: op as ClientOp, data: value as unknown as ClientFrame };
}
