import { abortError } from '../common/call.errors';
import type { AbortSource } from '../common/call-end';
import type { Clock } from '../common/clock';
import { AdmissionQueue, Waiter } from './admission-queue';
import { LimiterUnavailableError } from './concurrency-backend';
import { GLOBAL_LIMIT, limitKey, SESSION_LIMIT } from './concurrency.constants';
import { OverCapacityError } from './concurrency.errors';
import { HoldTimes } from './hold-times';
import { Lease, LeaseHolder, LimitSlot } from './lease';
import type { LeaseLedger } from './lease-ledger';

export interface AdmissionOptions {
  signal: AbortSource;
  /** Called when the call has to wait, and again whenever its position changes. */
  onQueued?: (position: number, waitingFor: string) => void;
}

export interface CoreSettings {
  /** Provider limits by provider id; a provider without one shares the global capacity. */
  limits: { global: number; session: number; providers: Readonly<Record<string, number>> };
  queueTimeoutMs: number;
  maxQueue: number;
}

/** Provider slots kept for reuse; ids beyond this many get a fresh slot per call. */
const MAX_CACHED_PROVIDER_SLOTS = 64;

export type AdmissionOutcome = 'admitted' | 'queued' | 'rejected' | 'timeout' | 'cancelled';

/** What the core is told, and tells, through its adapters. */
export interface CoreHooks {
  /** A provider's limit as it is now (adaptive), or undefined for the configured one. */
  providerLimit?(provider: string): number | undefined;
  /** Every admission outcome; an admission carries how long it waited. */
  outcome?(outcome: AdmissionOutcome, waitedMs?: number): void;
  queueDepth?(waiting: number): void;
}

/**
 * Admission against the global, provider and session limits, all or nothing,
 * with a bounded, fair queue for calls that do not fit yet: sessions
 * round-robin, the oldest waiter that fits first (admission-queue.ts), a
 * queue timeout, and a `retry_after` from recent hold times (hold-times.ts).
 * Framework-free: time comes from the injected clock, metrics and run-time
 * limits through the hooks.
 */
export class ConcurrencyCore {
  private readonly queue = new AdmissionQueue();
  private seq = 0;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private readonly holds = new HoldTimes();
  private readonly globalSlot: LimitSlot;
  private readonly providerSlots = new Map<string, LimitSlot>();

  constructor(
    private readonly settings: CoreSettings,
    readonly ledger: LeaseLedger,
    private readonly clock: Clock,
    private readonly hooks: CoreHooks = {},
  ) {
    this.globalSlot = { key: limitKey.global(), name: GLOBAL_LIMIT, capacity: settings.limits.global };
    ledger.onRelease((lease) => {
      this.holds.note(lease.acquiredAt, this.clock.now());
      this.wake();
    });
    ledger.backend.onCapacityFreed(() => this.wake());
  }

  /** The limits a call takes: global, its provider's (when it has one) and its session's. */
  slotsFor(holder: Pick<LeaseHolder, 'sessionId' | 'provider'>): LimitSlot[] {
    const { limits } = this.settings;
    const session = { key: limitKey.session(holder.sessionId), name: SESSION_LIMIT, capacity: limits.session };
    const { provider } = holder;
    return provider ? [this.globalSlot, this.providerSlot(provider), session] : [this.globalSlot, session];
  }

  // Built once per provider, not per call: provider ids come from the
  // registry, and the cache is bounded anyway.
  private providerSlot(provider: string): LimitSlot {
    const cached = this.providerSlots.get(provider);
    if (cached) return cached;
    // A getter: a queued waiter is tried against the provider's limit as it
    // is now (an adaptive limit moves while it waits), not as it was.
    const capacityOf = () => this.capacityOf(provider);
    const slot: LimitSlot = {
      key: limitKey.provider(provider),
      name: provider,
      get capacity() {
        return capacityOf();
      },
    };
    if (this.providerSlots.size < MAX_CACHED_PROVIDER_SLOTS) this.providerSlots.set(provider, slot);
    return slot;
  }

  capacityOf(provider: string): number {
    const configured = this.settings.limits.providers[provider] ?? this.settings.limits.global;
    return this.hooks.providerLimit?.(provider) ?? configured;
  }

  get queued(): number {
    return this.queue.size;
  }

  /**
   * Resolves with a lease once every limit has room, in fair order.
   * @throws OverCapacityError after the queue timeout, at once when the timeout is 0 or the queue is full.
   * @throws the signal's reason when aborted while waiting (nothing is charged).
   */
  acquire(holder: LeaseHolder, options: AdmissionOptions): Promise<Lease> {
    const { signal } = options;
    if (signal.aborted) return Promise.reject(abortError(signal.reason));
    if (this.queue.size > 0 || this.pumping) return this.enqueue(holder, options);
    // Fast path: nobody is waiting, so trying directly cannot overtake anyone.
    return this.ledger.tryAcquire(holder, this.slotsFor(holder)).then(
      (result) => {
        if (!(result instanceof Lease)) return this.enqueue(holder, options);
        if (signal.aborted) {
          result.release();
          throw abortError(signal.reason);
        }
        this.hooks.outcome?.('admitted', 0);
        return result;
      },
      (err: unknown) => {
        throw this.limiterError(err);
      },
    );
  }

  /** Tries the queue again: a permit was freed elsewhere, or a limit rose. */
  wake(): void {
    // Every release wakes the queue; with nobody waiting there is no round to run.
    if (this.queue.size === 0 && !this.pumping) return;
    void this.pump();
  }

  /** Refuses every queued waiter with `reason` (shutdown). */
  close(reason: Error): void {
    for (const w of this.queue.all()) {
      this.queue.remove(w);
      w.state = 'gone';
      w.reject(reason);
    }
    this.hooks.queueDepth?.(this.queue.size);
  }

  /** Seconds a caller refused now should wait before retrying behind `ahead` waiters (see HoldTimes). */
  retryAfter(ahead: number, capacity = this.settings.limits.global): number {
    return this.holds.retryAfter(ahead, capacity, this.settings.queueTimeoutMs, this.clock.now());
  }

  /** A backend that cannot decide (Redis down, closed mode) refuses at once; nothing is charged. */
  private limiterError(err: unknown): Error {
    if (!(err instanceof LimiterUnavailableError)) return err instanceof Error ? err : new Error(String(err));
    this.hooks.outcome?.('rejected');
    return new OverCapacityError('limiter', 1);
  }

  private enqueue(holder: LeaseHolder, options: AdmissionOptions): Promise<Lease> {
    const { signal } = options;
    if (signal.aborted) return Promise.reject(abortError(signal.reason));
    const started = this.clock.now();
    return new Promise<Lease>((resolve, reject) => {
      let cancelTimeout: (() => void) | undefined;
      const cleanup = () => {
        cancelTimeout?.();
        signal.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        seq: ++this.seq,
        holder,
        slots: this.slotsFor(holder),
        enqueuedAt: started,
        state: 'waiting',
        blockedBy: undefined,
        position: 0,
        resolve: (lease) => {
          cleanup();
          this.hooks.outcome?.('admitted', this.clock.now() - started);
          resolve(lease);
        },
        reject: (err) => {
          cleanup();
          reject(err);
        },
      };
      const leave = (err: Error, outcome: AdmissionOutcome) => {
        if (waiter.state !== 'waiting' && waiter.state !== 'admitting') return;
        if (waiter.state === 'waiting') this.queue.remove(waiter);
        // An 'admitting' waiter may still be granted a lease by the pump, which
        // gives it straight back when it finds the waiter gone.
        waiter.state = 'gone';
        this.hooks.outcome?.(outcome);
        this.hooks.queueDepth?.(this.queue.size);
        waiter.reject(err);
      };
      const onAbort = () => leave(abortError(signal.reason), 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });

      this.queue.add(waiter);
      this.hooks.queueDepth?.(this.queue.size);
      void this.pump().then(() => {
        if (waiter.state !== 'waiting') return;
        const { queueTimeoutMs, maxQueue } = this.settings;
        if (queueTimeoutMs === 0 || this.queue.size > maxQueue) return leave(this.overCapacity(waiter), 'rejected');
        this.hooks.outcome?.('queued');
        waiter.notify = options.onQueued;
        waiter.notify?.(waiter.position, waitingFor(waiter));
        cancelTimeout = this.clock.schedule(() => leave(this.overCapacity(waiter), 'timeout'), queueTimeoutMs);
      });
    });
  }

  /**
   * Hands free slots to waiters until a whole round admits nobody. Runs one at
   * a time; a call during a run asks for one more round.
   */
  private pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      try {
        do {
          this.pumpAgain = false;
          while (await this.admitOne()) {
            /* keep going while someone gets in */
          }
        } while (this.pumpAgain);
        this.refreshPositions();
      } finally {
        this.pumping = undefined;
      }
    })();
    return this.pumping;
  }

  /** Admits the first waiter in service order that fits; false when none does. */
  private async admitOne(): Promise<boolean> {
    const releases = this.ledger.releaseCount;
    for (const waiters of this.queue.rotation()) {
      for (const waiter of waiters) {
        if (waiter.state !== 'waiting') continue;
        waiter.state = 'admitting';
        let result: Awaited<ReturnType<LeaseLedger['tryAcquire']>>;
        try {
          result = await this.ledger.tryAcquire(waiter.holder, waiter.slots);
        } catch (err) {
          this.queue.remove(waiter);
          this.hooks.queueDepth?.(this.queue.size);
          if (!isGone(waiter)) {
            waiter.state = 'gone';
            waiter.reject(this.limiterError(err));
          }
          continue;
        }
        if (result instanceof Lease) {
          this.queue.served(waiter.holder.sessionId);
          this.queue.remove(waiter);
          this.hooks.queueDepth?.(this.queue.size);
          if (isGone(waiter)) {
            result.release();
          } else {
            waiter.state = 'admitted';
            waiter.resolve(result);
          }
          return true;
        }
        if (isGone(waiter)) {
          this.queue.remove(waiter);
          continue;
        }
        waiter.state = 'waiting';
        waiter.blockedBy = result.ok ? undefined : result.full;
        // A permit was freed while this attempt was on its way (a shared backend
        // answers later than the release): start the round again, so the freed
        // permit goes to the first waiter in turn, not to whoever is tried next.
        if (this.ledger.releaseCount !== releases) return true;
      }
    }
    return false;
  }

  private refreshPositions(): void {
    this.queue.all().forEach((w, i) => {
      if (w.position === i + 1) return;
      w.position = i + 1;
      w.notify?.(w.position, waitingFor(w));
    });
  }

  private overCapacity(waiter: Waiter): OverCapacityError {
    // The waiter itself plus those before it that wait on the same full limit.
    const blocking = waiter.blockedBy ?? waiter.slots[0];
    const ahead =
      this.queue.all().filter((w) => w.seq <= waiter.seq && w.slots.some((s) => s.key === blocking.key)).length || 1;
    return new OverCapacityError(waitingFor(waiter), this.retryAfter(ahead, blocking.capacity));
  }
}

function waitingFor(waiter: Waiter): string {
  return waiter.blockedBy?.name ?? GLOBAL_LIMIT;
}

// The state can change while a backend call is awaited; TS narrowing cannot see that.
function isGone(waiter: Waiter): boolean {
  return waiter.state === 'gone';
}
