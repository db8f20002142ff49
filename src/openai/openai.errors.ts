import { OverCapacityError } from '../concurrency/concurrency.errors';
import { CallCancelledError, CallError, CallTimeoutError, ShuttingDownError } from '../common/call.errors';
import { ProviderError, ProviderUnavailableError } from '../providers/providers.errors';
import { InvalidArgumentsError, UnknownModelError } from '../tools/tools.errors';

/** OpenAI's error body: what its SDKs parse into `APIError.type`, `.code` and `.param`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

/** An error answered in OpenAI's shape with the status an OpenAI SDK maps to the right exception. */
export class OpenAiApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param?: string,
    /** Seconds, sent as `Retry-After` (429, 503). */
    readonly retryAfterSecs?: number,
  ) {
    super(message);
    this.name = 'OpenAiApiError';
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param ?? null } };
  }
}

/** Upstream statuses that mean the request itself was wrong (too long, malformed), not the provider. */
const CALLER_FAULT_STATUSES = new Set([400, 413, 422]);

/**
 * The one mapping from the gateway's typed errors to OpenAI's statuses:
 * 400 invalid, 404 unknown model, 429 capacity, 502 provider refused,
 * 503 provider unavailable or shutting down, 504 deadline.
 */
export function toOpenAiError(err: unknown): OpenAiApiError {
  if (err instanceof OpenAiApiError) return err;
  if (err instanceof UnknownModelError) {
    return new OpenAiApiError(
      404,
      `The model \`${err.model}\` does not exist. Available models: ${err.available.join(', ')}`,
      'invalid_request_error',
      'model_not_found',
      'model',
    );
  }
  if (err instanceof InvalidArgumentsError) {
    const tooLong = !Array.isArray(err.details) && err.details.context_window_tokens !== undefined;
    return new OpenAiApiError(
      400,
      err.message,
      'invalid_request_error',
      tooLong ? 'context_length_exceeded' : 'invalid_request',
      tooLong ? 'messages' : undefined,
    );
  }
  if (err instanceof OverCapacityError) {
    return new OpenAiApiError(
      429,
      `${err.message} (limit: ${err.limit}). Retry after ${err.retryAfterSecs} s.`,
      'rate_limit_error',
      'over_capacity',
      undefined,
      err.retryAfterSecs,
    );
  }
  if (err instanceof CallTimeoutError) {
    return new OpenAiApiError(504, `${err.message}: the deadline budget ran out`, 'timeout_error', 'deadline_exceeded');
  }
  if (err instanceof ShuttingDownError) {
    return new OpenAiApiError(503, err.message, 'server_error', 'shutting_down', undefined, 1);
  }
  if (err instanceof ProviderUnavailableError) {
    return new OpenAiApiError(
      503,
      err.message,
      'server_error',
      'provider_unavailable',
      undefined,
      err.details.retryAfterSecs,
    );
  }
  if (err instanceof ProviderError) {
    const status = err.details.status;
    const callerFault =
      (status !== undefined && CALLER_FAULT_STATUSES.has(status)) || err.details.providerCode === 'sensitive';
    return new OpenAiApiError(
      callerFault ? 400 : 502,
      err.message,
      callerFault ? 'invalid_request_error' : 'upstream_error',
      err.details.providerCode ?? (callerFault ? 'invalid_request' : 'provider_error'),
    );
  }
  if (err instanceof CallCancelledError) {
    return new OpenAiApiError(499, err.message, 'cancelled', 'cancelled');
  }
  const message = err instanceof CallError || err instanceof Error ? err.message : String(err);
  return new OpenAiApiError(500, message, 'server_error', 'internal_error');
}
