/** Error codes of a failed `call_tool_res` (docs/protocol.md, "Error codes"). */
export enum CallErrorCode {
  TOOL_NOT_FOUND = 'TOOL_NOT_FOUND',
  INVALID_ARGUMENTS = 'INVALID_ARGUMENTS',
  OVER_CAPACITY = 'OVER_CAPACITY',
  TIMEOUT = 'TIMEOUT',
  CANCELLED = 'CANCELLED',
  PROVIDER_ERROR = 'PROVIDER_ERROR',
  PROVIDER_UNAVAILABLE = 'PROVIDER_UNAVAILABLE',
  EXEC_ERROR = 'EXEC_ERROR',
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  RATE_LIMITED = 'RATE_LIMITED',
}

/**
 * Base of every error that ends a call. Each feature declares its own
 * subclasses next to its code; the front doors (the WebSocket exception
 * filter, the OpenAI-compatible API) are the only places that turn one into
 * a wire answer.
 */
export abstract class CallError extends Error {
  protected constructor(
    readonly code: CallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** Extra fields placed next to `code` and `message` in the wire error. */
  wireFields(): Record<string, unknown> {
    return {};
  }
}

export class CallTimeoutError extends CallError {
  constructor(readonly limitSecs: number) {
    super(CallErrorCode.TIMEOUT, `call_tool exceeded ${limitSecs}s`);
  }
}

export class CallCancelledError extends CallError {
  constructor(reason = 'Cancelled by client') {
    super(CallErrorCode.CANCELLED, reason);
  }
}

export class ShuttingDownError extends CallError {
  constructor() {
    super(CallErrorCode.SHUTTING_DOWN, 'Daemon is shutting down; retry against a running daemon');
  }
}

/**
 * The error a call ends with when its AbortSignal fired: the reason it was
 * aborted with (deadline, cancel, shutdown, a reclaimed lease), or, for a
 * platform abort without one of ours (`AbortSignal.timeout`, a bare
 * `abort()`), the matching TIMEOUT or CANCELLED.
 */
export function abortError(reason: unknown): Error {
  if (reason instanceof CallError) return reason;
  // By name: a DOMException need not be an `Error` of this realm.
  const name = (reason as { name?: unknown } | null | undefined)?.name;
  if (name === 'TimeoutError') return new CallTimeoutError(0);
  return reason instanceof Error && name !== 'AbortError' ? reason : new CallCancelledError();
}

/** The code an ending is counted under in metrics and the activity log. */
export function outcomeOf(err: unknown): string {
  return err instanceof CallError ? err.code : CallErrorCode.EXEC_ERROR;
}
