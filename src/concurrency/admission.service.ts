import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { MetricsService } from '../metrics/metrics.service';
import { AdmissionQueue, Waiter } from './admission-queue';
import { concurrencyConfig } from './concurrency.config';
import { GLOBAL_LIMIT, limitKey, SESSION_LIMIT } from './concurrency.constants';
import { OverCapacityError } from './concurrency.errors';
import { abortError, ShuttingDownError } from '../common/call.errors';
import { Lease, LeaseHolder, LimitSlot } from './lease';
import { LeaseLedger } from './lease-ledger.service';
import { ConcurrencyBackend, LimiterUnavailableError } from './concurrency-backend';
import { ProviderCapacity } from './adaptive/provider-capacity';

export interface AdmissionOptions {
  signal: AbortSignal;
  /** Called when the call has to wait, and again whenever its position changes. */
  onQueued?: (position: number, waitingFor: string) => void;
}

const DRAIN_WINDOW_MS = 60_000;
/** Hold times kept for the retry_after estimate: the most recent ones within the window. */
const MAX_HOLD_SAMPLES = 256;
const DISTRIBUTED_POLL_MS = 500;
const MAX_RETRY_AFTER_SECS = 300;

/**
 * Atomic admission against the global, provider and session limits, with a
 * bounded, fair queue for calls that do not fit yet.
 */
@Injectable()
export class AdmissionService implements OnApplicationShutdown {
  private readonly logger = new Logger(AdmissionService.name);
  private readonly queue = new AdmissionQueue();
  private seq = 0;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  /** Recent releases: when, and how long the permit was held. */
  private readonly releases: Array<{ at: number; heldMs: number }> = [];

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly config: ConfigType<typeof concurrencyConfig>,
    private readonly ledger: LeaseLedger,
    private readonly metrics: MetricsService,
    backend: ConcurrencyBackend,
    @Optional() private readonly providerCapacity?: ProviderCapacity,
  ) {
    this.ledger.onRelease((lease) => {
      this.noteRelease(lease);
      void this.pump();
    });
    backend.onCapacityFreed(() => void this.pump());
    providerCapacity?.onRaised(() => void this.pump());
    if (backend.distributed) {
      // Pub/sub wakes waiters when another daemon releases; polling covers a lost message.
      this.poller = setInterval(() => {
        if (this.queue.size > 0) void this.pump();
      }, DISTRIBUTED_POLL_MS);
      this.poller.unref();
    }
  }

  private poller: NodeJS.Timeout | undefined;

  /** The limits a call takes: global, its provider's (when it has one) and its session's. */
  slotsFor(holder: Pick<LeaseHolder, 'sessionId' | 'provider'>): LimitSlot[] {
    const slots: LimitSlot[] = [{ key: limitKey.global(), name: GLOBAL_LIMIT, capacity: this.config.limits.global }];
    const provider = holder.provider;
    if (provider) {
      // A getter: a queued waiter is tried against the provider's limit as it
      // is now (an adaptive limit moves while it waits), not as it was.
      const capacityOf = (p: string) => this.capacityOf(p);
      slots.push({
        key: limitKey.provider(provider),
        name: provider,
        get capacity() {
          return capacityOf(provider);
        },
      });
    }
    slots.push({ key: limitKey.session(holder.sessionId), name: SESSION_LIMIT, capacity: this.config.limits.session });
    return slots;
  }

  capacityOf(provider: string): number {
    const configured = this.config.limits.providers[provider] ?? this.config.limits.global;
    return this.providerCapacity?.limitOf(provider) ?? configured;
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
        this.metrics.admissions.inc({ outcome: 'admitted' });
        this.metrics.queueWait.observe(0);
        return result;
      },
      (err: unknown) => {
        throw this.limiterError(err);
      },
    );
  }

  /** A backend that cannot decide (Redis down, closed mode) refuses at once; nothing is charged. */
  private limiterError(err: unknown): Error {
    if (!(err instanceof LimiterUnavailableError)) return err instanceof Error ? err : new Error(String(err));
    this.metrics.admissions.inc({ outcome: 'rejected' });
    return new OverCapacityError('limiter', 1);
  }

  private enqueue(holder: LeaseHolder, options: AdmissionOptions): Promise<Lease> {
    const { signal } = options;
    if (signal.aborted) return Promise.reject(abortError(signal.reason));
    const started = Date.now();
    return new Promise<Lease>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
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
          this.metrics.admissions.inc({ outcome: 'admitted' });
          this.metrics.queueWait.observe((Date.now() - started) / 1000);
          resolve(lease);
        },
        reject: (err) => {
          cleanup();
          reject(err);
        },
      };
      const leave = (err: Error, outcome: string) => {
        if (waiter.state !== 'waiting' && waiter.state !== 'admitting') return;
        if (waiter.state === 'waiting') this.queue.remove(waiter);
        // An 'admitting' waiter may still be granted a lease by the pump, which
        // gives it straight back when it finds the waiter gone.
        waiter.state = 'gone';
        this.metrics.admissions.inc({ outcome });
        this.updateQueueGauge();
        waiter.reject(err);
      };
      const onAbort = () => leave(abortError(signal.reason), 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });

      this.queue.add(waiter);
      this.updateQueueGauge();
      void this.pump().then(() => {
        if (waiter.state !== 'waiting') return;
        if (this.config.queueTimeoutMs === 0 || this.queue.size > this.config.maxQueue) {
          return leave(this.overCapacity(waiter), 'rejected');
        }
        this.metrics.admissions.inc({ outcome: 'queued' });
        waiter.notify = options.onQueued;
        waiter.notify?.(waiter.position, this.waitingFor(waiter));
        timer = setTimeout(() => leave(this.overCapacity(waiter), 'timeout'), this.config.queueTimeoutMs);
      });
    });
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Waiters still queued at shutdown are told so; their calls are being aborted anyway. */
  onApplicationShutdown(): void {
    clearInterval(this.poller);
    for (const w of this.queue.all()) {
      this.queue.remove(w);
      w.state = 'gone';
      w.reject(new ShuttingDownError());
    }
    this.updateQueueGauge();
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
          this.updateQueueGauge();
          if (!isGone(waiter)) {
            waiter.state = 'gone';
            waiter.reject(this.limiterError(err));
          }
          continue;
        }
        if (result instanceof Lease) {
          this.queue.served(waiter.holder.sessionId);
          this.queue.remove(waiter);
          this.updateQueueGauge();
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
    const all = this.queue.all();
    all.forEach((w, i) => {
      const position = i + 1;
      if (w.position === position) return;
      w.position = position;
      w.notify?.(position, this.waitingFor(w));
    });
  }

  private waitingFor(waiter: Waiter): string {
    return waiter.blockedBy?.name ?? GLOBAL_LIMIT;
  }

  private overCapacity(waiter: Waiter): OverCapacityError {
    // The waiter itself plus those before it that wait on the same full limit.
    const blocking = waiter.blockedBy ?? waiter.slots[0];
    const ahead =
      this.queue.all().filter((w) => w.seq <= waiter.seq && w.slots.some((s) => s.key === blocking.key)).length || 1;
    const capacity = blocking.capacity;
    return new OverCapacityError(this.waitingFor(waiter), this.retryAfter(ahead, capacity));
  }

  private noteRelease(lease: Lease): void {
    const now = Date.now();
    this.releases.push({ at: now, heldMs: Math.max(0, now - lease.acquiredAt) });
    while (
      this.releases.length > MAX_HOLD_SAMPLES ||
      (this.releases.length > 0 && this.releases[0].at < now - DRAIN_WINDOW_MS)
    )
      this.releases.shift();
  }

  /**
   * Seconds until `ahead` waiters have gone through a limit of `capacity`
   * permits, from how long permits were recently held: a slot frees about
   * every (mean hold / capacity). Never below 1 s, and never above the queue
   * timeout (a retry queues again for at most that long), nor 300 s.
   */
  retryAfter(ahead: number, capacity = this.config.limits.global): number {
    const bound = Math.min(MAX_RETRY_AFTER_SECS, Math.max(1, Math.ceil(this.config.queueTimeoutMs / 1000)));
    const now = Date.now();
    const recent = this.releases.filter((r) => r.at >= now - DRAIN_WINDOW_MS);
    if (recent.length === 0) return bound;
    const meanHoldSecs = recent.reduce((sum, r) => sum + r.heldMs, 0) / recent.length / 1000;
    const secs = Math.ceil((Math.max(1, ahead) * meanHoldSecs) / Math.max(1, capacity));
    return Math.min(bound, Math.max(1, secs));
  }

  private updateQueueGauge(): void {
    this.metrics.queueDepth.set(this.queue.size);
  }
}

// The state can change while a backend call is awaited; TS narrowing cannot see that.
function isGone(waiter: Waiter): boolean {
  return waiter.state === 'gone';
}
