import { redactProviderIds } from './provider-redaction';

export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * Per-provider breaker: opens after `threshold` consecutive retryable
 * failures, lets one trial call through after `cooldownMs`, and closes again
 * on a success. Non-retryable failures (a bad request) say nothing about the
 * provider's health and do not count.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private current: CircuitState = 'closed';
  lastError: { message: string; at: string } | undefined;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.cooldownMs) return 'half_open';
    return this.current;
  }

  /** Whether a call may go upstream now; a half-open circuit admits one trial at a time. */
  tryPass(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  /** Milliseconds until a trial call is allowed (0 when closed or half-open). */
  retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.cooldownMs - (this.now() - this.openedAt)) : 0;
  }

  onSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.current = 'closed';
  }

  onRetryableFailure(message: string): void {
    this.record(message);
    this.trialInFlight = false;
    this.failures++;
    if (this.current !== 'closed' || this.failures >= this.threshold) {
      this.current = 'open';
      this.openedAt = this.now();
    }
  }

  onOtherFailure(message: string): void {
    this.record(message);
    this.trialInFlight = false;
  }

  /** Shown in /health and the health op: redacted again whatever the caller passed. */
  private record(message: string): void {
    this.lastError = { message: redactProviderIds(message), at: new Date(this.now()).toISOString() };
  }
}
