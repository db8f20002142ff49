import {
  CLIENT_OPS,
  ClientOp,
  INVALID_FRAME_EVENT,
  MAX_REQUEST_ID_CHARS,
  MAX_TOKEN_CHARS,
  UNKNOWN_OP_EVENT,
} from './gateway.constants';
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

function invalid(detail: string, op?: string): ParsedFrame {
  return { event: INVALID_FRAME_EVENT, data: { reason: 'invalid_message', detail, ...(op ? { op } : {}) } };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(frame: Record<string, unknown>, key: string, maxChars: number): string | null {
  const v = frame[key];
  if (v === undefined) return null;
  if (typeof v !== 'string') return `"${key}" must be a string`;
  return v.length > maxChars ? `"${key}" must be at most ${maxChars} characters` : null;
}

/** The old daemon read a null `request_id` or `arguments` as absent, and its clients send them. */
function dropNulls(frame: Record<string, unknown>, ...keys: string[]): void {
  for (const key of keys) if (frame[key] === null) delete frame[key];
}

function shapeProblem(op: ClientOp, frame: Record<string, unknown>): string | null {
  switch (op) {
    case 'hello':
      // The session id needs no bound here: one that does not fit the
      // session pattern (1–128 chars) is replaced by a fresh one.
      return optionalString(frame, 'token', MAX_TOKEN_CHARS) ?? optionalString(frame, 'session_id', Infinity);
    case 'list_tools':
      dropNulls(frame, 'request_id');
      return optionalString(frame, 'request_id', MAX_REQUEST_ID_CHARS);
    case 'call_tool':
      dropNulls(frame, 'request_id', 'arguments');
      if (typeof frame.name !== 'string' || frame.name.trim() === '')
        return 'call_tool needs a non-empty string "name"';
      if (frame.arguments !== undefined && !isPlainObject(frame.arguments)) return '"arguments" must be an object';
      return optionalString(frame, 'request_id', MAX_REQUEST_ID_CHARS);
    case 'cancel':
      if (typeof frame.request_id !== 'string' || frame.request_id === '')
        return 'cancel needs a non-empty string "request_id"';
      return optionalString(frame, 'request_id', MAX_REQUEST_ID_CHARS);
    case 'rotate_token':
      if (typeof frame.old !== 'string' || typeof frame.new !== 'string')
        return 'rotate_token needs string "old" and "new"';
      return optionalString(frame, 'old', MAX_TOKEN_CHARS) ?? optionalString(frame, 'new', MAX_TOKEN_CHARS);
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
  if (problem) return invalid(problem, op);
  return { event: op as ClientOp, data: value as unknown as ClientFrame };
}
