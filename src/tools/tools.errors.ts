import { forLog } from '../common/log-text';
import { CallError, CallErrorCode } from '../gateway/gateway.errors';

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

export class InvalidToolDefinitionError extends Error {
  constructor(tool: string, why: string) {
    super(`Tool "${tool}" cannot be registered: ${why}`);
    this.name = 'InvalidToolDefinitionError';
  }
}
