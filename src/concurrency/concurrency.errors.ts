import { CallError, CallErrorCode } from '../common/call.errors';

const LIMIT_MESSAGES: Record<string, string> = {
  global: 'Global concurrency limit reached; retry soon',
  session: 'Session concurrency limit reached; retry soon',
  limiter: 'Concurrency limiter unavailable (Redis unreachable); retry soon',
};

/** Not admitted within the queue timeout, or the queue is full. */
export class OverCapacityError extends CallError {
  constructor(
    readonly limit: string,
    readonly retryAfterSecs: number,
    message = LIMIT_MESSAGES[limit] ?? `${limit} concurrency limit reached; retry soon`,
  ) {
    super(CallErrorCode.OVER_CAPACITY, message);
  }

  override wireFields(): Record<string, unknown> {
    return { retry_after: this.retryAfterSecs, limit: this.limit };
  }
}

/** The abort reason given to a call whose lease the leak audit reclaimed. */
export class LeaseReclaimedError extends CallError {
  constructor(reason: string) {
    super(CallErrorCode.EXEC_ERROR, `Lease reclaimed by the leak audit (${reason})`);
  }
}

/**
 * The abort reason of a running call whose permit vanished from Redis (it
 * restarted empty) and could not be taken back without going over `limit`.
 */
export class LeaseLostError extends OverCapacityError {
  constructor(limit: string) {
    super(
      limit,
      1,
      `Concurrency permit lost (the shared limiter restarted) and the ${limit} limit is full; retry soon`,
    );
  }
}
