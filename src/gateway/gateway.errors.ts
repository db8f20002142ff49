import { CallError, CallErrorCode } from '../common/call.errors';

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
