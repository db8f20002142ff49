import { OverCapacityError } from '../concurrency/concurrency.errors';

/**
 * A call that needs shared state (a conversation or workflow to continue or
 * record) while Redis is unreachable in `closed` mode. Refused the way the
 * limiter refuses in the same case, `OVER_CAPACITY` with a `retry_after`, so
 * clients that already back off and retry on it need nothing new; `limit`
 * names the cause.
 */
export class StateUnavailableError extends OverCapacityError {
  constructor() {
    super('state', 1, 'Shared conversation state unavailable (Redis unreachable); retry soon');
  }
}
