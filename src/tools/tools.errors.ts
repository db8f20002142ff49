import { forLog } from '../common/log-text';
import { CallError, CallErrorCode } from '../common/call.errors';

export class ToolNotFoundError extends CallError {
  constructor(originalName: string) {
    super(CallErrorCode.TOOL_NOT_FOUND, `Unknown tool: ${forLog(originalName)}`);
  }
}

export interface ArgumentProblem {
  path: string;
  message: string;
}

export class InvalidArgumentsError extends CallError {
  constructor(
    message: string,
    readonly details: ArgumentProblem[] | Record<string, unknown>,
  ) {
    super(CallErrorCode.INVALID_ARGUMENTS, message);
  }

  override wireFields(): Record<string, unknown> {
    return { details: this.details };
  }
}

/** Longest part of a client-supplied id quoted back in a message. */
const QUOTED_ID_MAX = 128;

/**
 * A `continuation_id` that is not a live thread of the caller's session:
 * expired, never issued, or another session's (the message does not say which).
 */
export class UnknownContinuationError extends InvalidArgumentsError {
  constructor(continuationId: string) {
    const shown = continuationId.slice(0, QUOTED_ID_MAX);
    super(
      `unknown continuation_id "${shown}": no live conversation of this session has that id (threads expire after 3 h); omit continuation_id to start a new one`,
      { continuation_id: shown },
    );
  }
}

/** A model no provider serves: INVALID_ARGUMENTS on the WebSocket, 404 on the OpenAI API. */
export class UnknownModelError extends InvalidArgumentsError {
  constructor(
    readonly model: string,
    readonly available: string[],
  ) {
    super(`Unknown model "${model}". Available models: ${available.join(', ')}`, {
      model,
      available_models: available,
    });
  }
}

export class InvalidToolDefinitionError extends Error {
  constructor(tool: string, why: string) {
    super(`Tool "${tool}" cannot be registered: ${why}`);
    this.name = 'InvalidToolDefinitionError';
  }
}
