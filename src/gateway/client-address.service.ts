import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { gatewayConfig, parseAddressRange } from './gateway.config';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/**
 * The address a connection comes from, which the per-address bounds (the
 * connection cap, the failed-hello backoff) and the refusal log are keyed by.
 * Behind a load balancer every socket's peer is the balancer, so one agent
 * with a wrong token would get every agent backed off. When the peer is one
 * of EXAI_TRUSTED_PROXIES, the client is the right-most X-Forwarded-For entry
 * that is not itself a trusted proxy: each proxy appends the address it saw,
 * and only what our own proxies appended can be believed (entries further
 * left are whatever the client wrote). With no trusted proxies the header is
 * ignored, so a client cannot choose its own address.
 */
@Injectable()
export class ClientAddressService {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(@Inject(gatewayConfig.KEY) config: ConfigType<typeof gatewayConfig>) {
    for (const entry of config.trustedProxies) {
      const range = parseAddressRange(entry);
      // Validated at boot; an entry that fails here would be a bug, not bad input.
      if (range) this.trusted.addSubnet(range.address, range.prefix, range.family);
    }
    this.any = config.trustedProxies.length > 0;
  }

  of(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress;
    if (peer === undefined) return 'unknown';
    if (!this.any || !this.isTrusted(plain(peer))) return plain(peer);
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => h.trim());
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]);
      // A malformed hop was not written by a proxy we trust: stop at the last address we can vouch for.
      if (isIP(hop) === 0) break;
      if (!this.isTrusted(hop)) return hop;
    }
    return plain(peer);
  }

  private isTrusted(address: string): boolean {
    return this.trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}
