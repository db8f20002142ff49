import { CallError, CallErrorCode } from '../common/call.errors';

export interface UpstreamDetails {
  provider: string;
  status?: number;
  providerCode?: string;
}

/** A non-retryable upstream failure: auth, balance, content filter, context too long, bad request. */
export class ProviderError extends CallError {
  constructor(
    message: string,
    readonly details: UpstreamDetails,
    options?: { cause?: unknown },
  ) {
    super(CallErrorCode.PROVIDER_ERROR, message, options);
  }

  override wireFields(): Record<string, unknown> {
    return {
      provider: this.details.provider,
      status: this.details.status ?? null,
      provider_code: this.details.providerCode ?? null,
    };
  }
}

/** Retries exhausted within the deadline, or the circuit is open and nothing can take the call. */
export class ProviderUnavailableError extends CallError {
  constructor(
    message: string,
    readonly details: UpstreamDetails & { retryAfterSecs?: number },
    options?: { cause?: unknown },
  ) {
    super(CallErrorCode.PROVIDER_UNAVAILABLE, message, options);
  }

  override wireFields(): Record<string, unknown> {
    const fields: Record<string, unknown> = {
      provider: this.details.provider,
      status: this.details.status ?? null,
      provider_code: this.details.providerCode ?? null,
    };
    if (this.details.retryAfterSecs !== undefined) fields.retry_after = this.details.retryAfterSecs;
    return fields;
  }
}

/** One failed attempt, before the retry policy decides what it means for the call. */
export class UpstreamFailure extends Error {
  constructor(
    message: string,
    readonly kind: 'http' | 'network' | 'idle' | 'finish' | 'protocol',
    readonly retryable: boolean,
    readonly details: UpstreamDetails,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamFailure';
  }
}
