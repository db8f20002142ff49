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
 * Base of every error that ends a call. The gateway exception filter is the
 * only place that turns it into a wire frame.
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

export class ToolExecutionError extends CallError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(CallErrorCode.EXEC_ERROR, message, options);
  }
}

/** A `call_tool` over the connection's message rate: it still ends in its own result frame. */
export class RateLimitedCallError extends CallError {
  constructor(readonly retryAfterSecs: number) {
    super(CallErrorCode.RATE_LIMITED, 'Too many messages on this connection');
  }

  override wireFields(): Record<string, unknown> {
    return { retry_after: this.retryAfterSecs };
  }
}

/**
 * A call sent under the request_id of a different call of the same session
 * that is still running: frames and `cancel` are addressed by that id, so two
 * live calls cannot share it.
 */
export class RequestIdInUseError extends CallError {
  constructor(
    readonly requestId: string,
    readonly runningTool: string,
  ) {
    super(
      CallErrorCode.INVALID_ARGUMENTS,
      `request_id "${requestId.slice(0, 128)}" is in use by a running ${runningTool} call with other arguments in this session; send this call with a new request_id`,
    );
  }

  override wireFields(): Record<string, unknown> {
    return { details: { request_id: this.requestId.slice(0, 128), running_tool: this.runningTool } };
  }
}

/** A frame that is answered with `{"op":"error","message"}` instead of a call result. */
export class FrameError extends Error {
  constructor(readonly wireMessage: string) {
    super(wireMessage);
    this.name = 'FrameError';
  }

  /** Extra fields placed next to `message` in the error frame. */
  wireFields(): Record<string, unknown> {
    return {};
  }
}

export class InvalidJsonError extends FrameError {
  constructor() {
    super('invalid_json');
  }
}

export class InvalidMessageError extends FrameError {
  constructor(readonly detail: string) {
    super(`invalid_message: ${detail}`);
  }
}

export class UnknownOpError extends FrameError {
  constructor(op: string) {
    super(`Unknown op: ${op}`);
  }
}

export class UnknownRequestError extends FrameError {
  constructor(requestId: string) {
    super(`unknown_request: ${requestId}`);
  }
}

/**
 * Any other op over the rate. It names the frame's request_id (when it had
 * one) so a client multiplexing on one socket can fail just that request.
 */
export class RateLimitedError extends FrameError {
  constructor(
    readonly retryAfterSecs: number,
    readonly requestId?: string,
  ) {
    super(`rate_limit_exceeded: retry after ${retryAfterSecs}s`);
  }

  override wireFields(): Record<string, unknown> {
    return {
      code: CallErrorCode.RATE_LIMITED,
      retry_after: this.retryAfterSecs,
      ...(this.requestId !== undefined ? { request_id: this.requestId } : {}),
    };
  }
}
