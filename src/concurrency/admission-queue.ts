import type { Lease, LeaseHolder, LimitSlot } from './lease';

export type WaiterState = 'waiting' | 'admitting' | 'admitted' | 'gone';

export interface Waiter {
  readonly seq: number;
  readonly holder: LeaseHolder;
  readonly slots: readonly LimitSlot[];
  readonly enqueuedAt: number;
  state: WaiterState;
  /** The limit that was full at the last attempt. */
  blockedBy: LimitSlot | undefined;
  position: number;
  /** Told the waiter's position and blocking limit whenever they change. */
  notify?: (position: number, waitingFor: string) => void;
  resolve(lease: Lease): void;
  reject(err: Error): void;
}

/**
 * Waiters grouped by session. Sessions are visited round-robin; inside a
 * session the oldest waiter that fits goes first, and a waiter that does not
 * fit never blocks one behind it that does (no head-of-line blocking).
 */
export class AdmissionQueue {
  private readonly bySession = new Map<string, Waiter[]>();
  private order: string[] = [];
  private cursor = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(waiter: Waiter): void {
    let list = this.bySession.get(waiter.holder.sessionId);
    if (!list) {
      list = [];
      this.bySession.set(waiter.holder.sessionId, list);
      this.order.push(waiter.holder.sessionId);
    }
    list.push(waiter);
    this.count++;
  }

  remove(waiter: Waiter): boolean {
    const session = waiter.holder.sessionId;
    const list = this.bySession.get(session);
    const i = list?.indexOf(waiter) ?? -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) {
      this.bySession.delete(session);
      const at = this.order.indexOf(session);
      this.order.splice(at, 1);
      if (at < this.cursor) this.cursor--;
      if (this.cursor >= this.order.length) this.cursor = 0;
    }
    return true;
  }

  /**
   * Sessions in service order, starting at the round-robin cursor, each with
   * its waiters oldest first.
   */
  *rotation(): Generator<Waiter[]> {
    const n = this.order.length;
    const start = this.cursor;
    for (let k = 0; k < n; k++) {
      const session = this.order[(start + k) % n];
      const list = this.bySession.get(session);
      if (list) yield [...list];
    }
  }

  /** After a session is served, the next pass starts with the session after it. */
  served(sessionId: string): void {
    const at = this.order.indexOf(sessionId);
    if (at >= 0 && this.order.length > 0) this.cursor = (at + 1) % this.order.length;
  }

  /** All waiters in arrival order. */
  all(): Waiter[] {
    return [...this.bySession.values()].flat().sort((a, b) => a.seq - b.seq);
  }
}
