import { Logger } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';

export type RotateOutcome = { ok: true } | { ok: false; error: 'missing_params' | 'unauthorized' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Owns the shared token. Comparisons hash both sides first so that
 * `timingSafeEqual` always sees equal lengths and the token's length leaks
 * nothing either. Shared by every front door (the WebSocket hello, the HTTP
 * operator endpoints, the OpenAI-compatible API), so a rotate_token applies
 * to all of them; GatewayAuthModule builds it from the configured token.
 */
export class GatewayAuthService {
  private readonly logger = new Logger(GatewayAuthService.name);
  private current: string;

  constructor(token: string) {
    this.current = token;
  }

  get authEnabled(): boolean {
    return this.current !== '';
  }

  /** True when auth is disabled or the presented token matches. */
  accepts(presented: string | undefined): boolean {
    if (!this.authEnabled) return true;
    return this.matches(presented ?? '');
  }

  /**
   * Replaces the token. Authentication is switched on only by configuration,
   * never over the wire: with it off there is no token to present, so `old`
   * is empty and the answer is `missing_params` (a web page could otherwise
   * lock every agent out of a loopback daemon).
   */
  rotate(oldToken: string, newToken: string): RotateOutcome {
    if (oldToken === '' || newToken === '') return { ok: false, error: 'missing_params' };
    if (!this.authEnabled || !this.matches(oldToken)) return { ok: false, error: 'unauthorized' };
    this.current = newToken;
    this.logger.log('Token rotated');
    return { ok: true };
  }

  private matches(presented: string): boolean {
    return timingSafeEqual(digest(presented), digest(this.current));
  }
}
