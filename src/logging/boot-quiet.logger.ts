import type { LoggerService } from '@nestjs/common';

/**
 * Nest's contexts that log one line per module, route and gateway at every
 * start ("… dependencies initialized", "Mapped {/health, GET} route"). Useful
 * when debugging the wiring, noise otherwise.
 */
const BOILERPLATE_CONTEXTS = new Set([
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestFactory',
  'NestApplication',
]);

/** Passes everything to `inner`, with Nest's start-up boilerplate at debug instead of info. */
export class BootQuietLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...optional: unknown[]): void {
    const context = optional.at(-1);
    if (typeof context === 'string' && BOILERPLATE_CONTEXTS.has(context) && this.inner.debug) {
      this.inner.debug(message, ...optional);
      return;
    }
    this.inner.log(message, ...optional);
  }

  error(message: unknown, ...optional: unknown[]): void {
    // main() reports a taken port as one plain line; Nest's own copy would be a second.
    if (optional.at(-1) === 'NestApplication' && /EADDRINUSE/.test(String(message)) && this.inner.debug) {
      this.inner.debug(message, ...optional);
      return;
    }
    this.inner.error(message, ...optional);
  }

  warn(message: unknown, ...optional: unknown[]): void {
    this.inner.warn(message, ...optional);
  }

  debug(message: unknown, ...optional: unknown[]): void {
    this.inner.debug?.(message, ...optional);
  }

  verbose(message: unknown, ...optional: unknown[]): void {
    this.inner.verbose?.(message, ...optional);
  }

  fatal(message: unknown, ...optional: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...optional);
  }
}
