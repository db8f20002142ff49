/** WebSocket close codes used by the EXAI protocol. */
export const CloseCode = {
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
  INVALID_HELLO: 4000,
  MISSING_HELLO: 4001,
  HELLO_TIMEOUT: 4002,
  UNAUTHORIZED: 4003,
} as const;

/** Ops a client may send; anything else is answered with `Unknown op`. */
export const CLIENT_OPS = ['hello', 'list_tools', 'call_tool', 'cancel', 'health', 'rotate_token'] as const;
export type ClientOp = (typeof CLIENT_OPS)[number];

/**
 * Reserved handler events for frames that cannot be dispatched by their op.
 * The `$` prefix cannot collide with a client op because only `CLIENT_OPS`
 * are ever used as event names.
 */
export const INVALID_FRAME_EVENT = '$invalid';
export const UNKNOWN_OP_EVENT = '$unknown';
export const RATE_LIMITED_EVENT = '$rate_limited';

/** Longest `request_id` accepted: ids are echoed on every frame, cached and logged. */
export const MAX_REQUEST_ID_CHARS = 128;
/** Longest token accepted in a hello or rotate_token. */
export const MAX_TOKEN_CHARS = 4096;
