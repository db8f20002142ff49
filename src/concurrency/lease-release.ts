import { ABORT_SETTLE_MAX_MS } from './concurrency.constants';
import type { Lease } from './lease';

/** What the release rule needs to know about the work a lease was taken for. */
export interface LeasedWork {
  /** The work was started (a provider request may be open). */
  readonly started: boolean;
  /** The work's promise has resolved or rejected. */
  readonly settled: boolean;
  readonly whenSettled: Promise<unknown>;
}

/**
 * Releases the lease once the work has settled after an abort, so a provider
 * request is not still open when its permit is reused — but never later than
 * ABORT_SETTLE_MAX_MS (or the lease grace, if shorter), so work that ignores
 * its signal cannot keep it. `onReleased` runs right after the release.
 */
export function releaseAfterSettle(lease: Lease, work: LeasedWork, graceMs: number, onReleased?: () => void): void {
  if (work.settled || !work.started) {
    lease.release();
    onReleased?.();
    return;
  }
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    lease.release();
    onReleased?.();
  };
  const timer = setTimeout(finish, Math.min(ABORT_SETTLE_MAX_MS, graceMs));
  void work.whenSettled.then(finish);
}
