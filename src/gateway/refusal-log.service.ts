import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';

/** One summary line per this interval, however many sockets were refused in it. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Addresses named in one summary line; the rest are only counted. */
const MAX_NAMED_ADDRESSES = 5;
/** Distinct addresses counted per interval, so a spread-out flood cannot grow this map. */
const MAX_COUNTED_ADDRESSES = 1000;

export type RefusalReason =
  | 'origin'
  | 'backoff'
  | 'max_connections'
  | 'max_connections_per_ip'
  | 'pending_hellos'
  | 'hello_timeout'
  | 'hello_too_large'
  | 'invalid_hello'
  | 'missing_hello'
  | 'unauthorized';

/**
 * Refusals (bad origin, failed hello, full caps) are logged at a bounded
 * rate: the first of a quiet period at once, then one summary line per
 * interval with counts by reason and the busiest addresses. A flood of
 * refused sockets must not turn into a flood of log lines.
 */
@Injectable()
export class RefusalLogService implements OnModuleDestroy {
  private readonly logger = new Logger('Refusals');
  private readonly byReason = new Map<RefusalReason, number>();
  private readonly byAddress = new Map<string, number>();
  private otherAddresses = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly metrics: MetricsService) {}

  record(reason: RefusalReason, ip: string): void {
    this.metrics.wsRefused.inc({ reason });
    if (!this.timer) {
      this.logger.warn(
        `Refused a connection from ${ip}: ${reason} (more in one summary per ${REFUSAL_LOG_INTERVAL_MS / 1000} s)`,
      );
      this.timer = setTimeout(() => this.flush(), REFUSAL_LOG_INTERVAL_MS).unref();
      return;
    }
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    const n = this.byAddress.get(ip);
    if (n !== undefined) this.byAddress.set(ip, n + 1);
    else if (this.byAddress.size < MAX_COUNTED_ADDRESSES) this.byAddress.set(ip, 1);
    else this.otherAddresses++;
  }

  onModuleDestroy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    const total = [...this.byReason.values()].reduce((a, b) => a + b, 0);
    if (total === 0) {
      this.timer = undefined;
      return;
    }
    const reasons = [...this.byReason].map(([r, n]) => `${r} ${n}`).join(', ');
    const busiest = [...this.byAddress]
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_NAMED_ADDRESSES)
      .map(([ip, n]) => `${ip} ${n}`)
      .join(', ');
    const addresses = this.byAddress.size + (this.otherAddresses > 0 ? '+' : '');
    this.logger.warn(
      `Refused ${total} connections in the last ${REFUSAL_LOG_INTERVAL_MS / 1000} s (${reasons}) from ${addresses} addresses; busiest: ${busiest}`,
    );
    this.byReason.clear();
    this.byAddress.clear();
    this.otherAddresses = 0;
    this.timer = setTimeout(() => this.flush(), REFUSAL_LOG_INTERVAL_MS).unref();
  }
}
