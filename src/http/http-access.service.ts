import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { isIP } from 'node:net';
import { GatewayAuthService } from '../auth/gateway-auth.service';
import { isLoopbackHost } from '../config/listen-host';
import { httpConfig } from './http.config';

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** The name part of a Host header: no port, no IPv6 brackets, lower case, no trailing dot. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined) : h.split(':')[0];
  return name.replace(/\.$/, '');
}

/**
 * Who the HTTP endpoints answer. Decided from the configured bind address
 * (EXAI_WS_HOST), which is what the daemon listens on.
 */
@Injectable()
export class HttpAccessService {
  private readonly bindHost: string;
  private readonly wildcard: boolean;
  private readonly loopback: boolean;

  constructor(
    @Inject(httpConfig.KEY) private readonly config: ConfigType<typeof httpConfig>,
    private readonly auth: GatewayAuthService,
  ) {
    this.bindHost = hostName(config.host);
    this.wildcard = WILDCARD_HOSTS.has(config.host);
    this.loopback = isLoopbackHost(config.host);
  }

  /**
   * DNS rebinding defence: a page on attacker.example that resolves its name
   * to this daemon still sends `Host: attacker.example`. Accepted: the bound
   * name, EXAI_HTTP_ALLOWED_HOSTS, loopback names when loopback is bound, and
   * on a wildcard bind any IP literal (a literal address cannot be rebound).
   */
  hostAllowed(header: string | undefined): boolean {
    if (!header) return false;
    const name = hostName(header);
    if (name === this.bindHost || this.config.allowedHosts.includes(name)) return true;
    if (isLoopbackHost(name)) return this.loopback || this.wildcard;
    return this.wildcard && isIP(name) !== 0;
  }

  /** Off loopback with a token, the operator endpoints need that token. */
  get tokenRequired(): boolean {
    return !this.loopback && this.auth.authEnabled;
  }

  /** Constant-time, through GatewayAuthService; the current token, so rotate_token applies here too. */
  tokenAccepted(presented: string | undefined): boolean {
    return presented !== undefined && presented !== '' && this.auth.accepts(presented);
  }
}
