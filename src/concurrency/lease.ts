/** Where a failing release is reported (a Nest Logger fits). */
export interface LeaseLogger {
  error(message: unknown): void;
}

/** Who a lease is for; the liveness callbacks let the audit find leaks without knowing the gateway. */
export interface LeaseHolder {
  requestId: string;
  sessionId: string;
  connectionId: string;
  /** Provider limit this call takes, if any (`GLM`, `KIMI`, ...). */
  provider?: string;
  /** The call's time budget; the lease expires this long plus a grace period after admission. */
  timeoutMs: number;
  /** True while the call that holds the lease is still running. */
  isLive(): boolean;
  /** Aborts the holder's work when the audit reclaims the lease. */
  abort(reason: Error): void;
}

/** A ledger key with the capacity that applies to it. */
export interface LimitSlot {
  key: string;
  /** Wire name: `global`, `session` or a provider id. */
  name: string;
  capacity: number;
}

/**
 * A permit. Never a bare counter decrement: the lease is the permit, and
 * `release()` is idempotent and cannot throw, so no code path can give a
 * permit back twice or crash while giving it back.
 */
export class Lease {
  private released = false;

  constructor(
    readonly id: string,
    readonly holder: LeaseHolder,
    readonly slots: readonly LimitSlot[],
    readonly acquiredAt: number,
    readonly expiresAt: number,
    private readonly onRelease: (lease: Lease) => void,
    private readonly logger: LeaseLogger,
  ) {}

  get requestId(): string {
    return this.holder.requestId;
  }

  get sessionId(): string {
    return this.holder.sessionId;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Gives the permit back; returns false when it already was. */
  release(): boolean {
    if (this.released) return false;
    this.released = true;
    try {
      this.onRelease(this);
    } catch (err) {
      this.logger.error({ msg: 'Lease release failed; the leak audit will reclaim it', lease_id: this.id, err });
    }
    return true;
  }
}
