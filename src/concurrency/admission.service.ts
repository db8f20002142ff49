import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { systemClock } from '../common/clock';
import { ShuttingDownError } from '../common/call.errors';
import { MetricsService } from '../metrics/metrics.service';
import { ProviderCapacity } from './adaptive/provider-capacity';
import { concurrencyConfig } from './concurrency.config';
import { AdmissionOptions, ConcurrencyCore } from './concurrency.core';
import type { Lease, LeaseHolder } from './lease';
import { LeaseLedger } from './lease-ledger';

export type { AdmissionOptions } from './concurrency.core';

/** Pub/sub wakes waiters when another daemon releases; this poll covers a lost message. */
const DISTRIBUTED_POLL_MS = 500;

/**
 * The Nest face of admission (concurrency.core.ts): builds the core with the
 * system clock, counts its outcomes in the metrics, follows the adaptive
 * provider limits, polls a shared backend, and refuses waiters at shutdown.
 */
@Injectable()
export class AdmissionService implements OnApplicationShutdown {
  readonly core: ConcurrencyCore;
  private readonly poller: NodeJS.Timeout | undefined;

  constructor(
    @Inject(concurrencyConfig.KEY) config: ConfigType<typeof concurrencyConfig>,
    ledger: LeaseLedger,
    metrics: MetricsService,
    @Optional() capacity?: ProviderCapacity,
  ) {
    this.core = new ConcurrencyCore(config, ledger, systemClock, {
      providerLimit: capacity && ((provider) => capacity.limitOf(provider)),
      outcome: (outcome, waitedMs) => {
        metrics.admissions.inc({ outcome });
        if (waitedMs !== undefined) metrics.queueWait.observe(waitedMs / 1000);
      },
      queueDepth: (waiting) => metrics.queueDepth.set(waiting),
    });
    capacity?.onRaised(() => this.core.wake());
    if (ledger.backend.distributed) {
      this.poller = setInterval(() => {
        if (this.core.queued > 0) this.core.wake();
      }, DISTRIBUTED_POLL_MS);
      this.poller.unref();
    }
  }

  /** See ConcurrencyCore.acquire. */
  acquire(holder: LeaseHolder, options: AdmissionOptions): Promise<Lease> {
    return this.core.acquire(holder, options);
  }

  capacityOf(provider: string): number {
    return this.core.capacityOf(provider);
  }

  /** Waiters still queued at shutdown are told so; their calls are being aborted anyway. */
  onApplicationShutdown(): void {
    clearInterval(this.poller);
    this.core.close(new ShuttingDownError());
  }
}
