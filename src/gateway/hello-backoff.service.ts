import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TtlLru } from '../common/ttl-lru';
import { gatewayConfig } from './gateway.config';

/** Addresses remembered at once; the least recently seen is forgotten first. */
const MAX_TRACKED_ADDRESSES = 10_000;
/** A failure is forgotten after this long without another from the same address. */
const FAILURE_MEMORY_MS = 10 * 60 * 1000;

interface Failures {
  count: number;
  blockedUntil: number;
}

/**
 * Per-address backoff after failed hellos (bad token, malformed or oversized
 * hello, no hello in time). After `helloFailuresBeforeBackoff` failures an
 * address is refused at the HTTP upgrade for 1 s, doubling with each further
 * failure up to `helloBackoffMaxMs`; a successful hello clears it.
 */
@Injectable()
export class HelloBackoffService {
  private readonly failures = new TtlLru<string, Failures>(MAX_TRACKED_ADDRESSES, FAILURE_MEMORY_MS);

  constructor(@Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>) {}

  failed(ip: string, now = Date.now()): void {
    const entry = this.failures.get(ip) ?? { count: 0, blockedUntil: 0 };
    entry.count++;
    const over = entry.count - this.config.helloFailuresBeforeBackoff;
    if (over >= 0) entry.blockedUntil = now + Math.min(this.config.helloBackoffMaxMs, 1000 * 2 ** Math.min(over, 20));
    this.failures.set(ip, entry);
  }

  succeeded(ip: string): void {
    this.failures.delete(ip);
  }

  /** Milliseconds the address must still wait, or 0. */
  blockedFor(ip: string, now = Date.now()): number {
    const entry = this.failures.get(ip);
    return entry ? Math.max(0, entry.blockedUntil - now) : 0;
  }
}
