import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { ClientAddressService } from './client-address.service';
import { gatewayConfig } from './gateway.config';
import { HelloBackoffService } from './hello-backoff.service';
import { RefusalLogService } from './refusal-log.service';

export interface UpgradeRefusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/**
 * Decides, before any WebSocket exists, whether an upgrade may proceed. A
 * refusal here costs one short HTTP response: no socket state, no timers.
 */
@Injectable()
export class UpgradeGuardService {
  constructor(
    @Inject(gatewayConfig.KEY) private readonly config: ConfigType<typeof gatewayConfig>,
    private readonly backoff: HelloBackoffService,
    private readonly refusals: RefusalLogService,
    private readonly clientAddress: ClientAddressService,
  ) {}

  check(req: IncomingMessage): UpgradeRefusal | undefined {
    const ip = this.clientAddress.of(req);
    // Agents and CLIs send no Origin; a browser always does, and a page the
    // user visits must not reach a daemon that trusts loopback.
    const origin = req.headers.origin;
    if (origin !== undefined && !this.config.allowedOrigins.includes(origin.toLowerCase())) {
      this.refusals.record('origin', ip);
      return { status: 403, message: 'Origin not allowed (EXAI_WS_ALLOWED_ORIGINS)' };
    }
    const waitMs = this.backoff.blockedFor(ip);
    if (waitMs > 0) {
      this.refusals.record('backoff', ip);
      const secs = Math.ceil(waitMs / 1000);
      return {
        status: 429,
        message: `Too many failed hellos from this address; retry after ${secs}s`,
        headers: { 'Retry-After': String(secs) },
      };
    }
    return undefined;
  }
}
