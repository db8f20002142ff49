import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import type { AllConfigType } from './config/config.type';
import { GatewayWsAdapter } from './gateway/gateway.adapter';

/** Wires what every daemon instance needs: logger and the EXAI WebSocket adapter. */
export function configureApp(app: INestApplication): void {
  app.useLogger(app.get(Logger));
  // Names the framework to anyone probing for known weaknesses, and tells a client nothing it needs.
  (app.getHttpAdapter().getInstance() as { disable(setting: string): void }).disable('x-powered-by');
  const gateway = app.get(ConfigService<AllConfigType, true>).get('gateway', { infer: true });
  // Chat requests carry whole conversations: the same bound as a WebSocket frame, not Express's 100 kB.
  (app as NestExpressApplication).useBodyParser('json', { limit: gateway.maxBytes });
  app.useWebSocketAdapter(new GatewayWsAdapter(app, { maxPayload: gateway.maxBytes }));
}

export interface StartOptions {
  extensions?: Array<Type | DynamicModule>;
  /** Overrides EXAI_WS_PORT (tests pass 0). */
  port?: number;
  nest?: NestApplicationOptions;
}

function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws').replace(/\/?$/, '/');
}

/** Creates, configures and starts a daemon; resolves once it listens. */
export async function startDaemon(options: StartOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(await AppModule.forRoot({ extensions: options.extensions }), {
    bufferLogs: true,
    // Rethrow startup failures (a tool with a bad schema, a port in use) so
    // main() reports them and exits 1, instead of Nest calling process.abort().
    abortOnError: false,
    ...options.nest,
  });
  configureApp(app);
  const gateway = app.get(ConfigService<AllConfigType, true>).get('gateway', { infer: true });
  await app.listen(options.port ?? gateway.port, gateway.host);
  const log = app.get(Logger);
  if (gateway.token === '') {
    log.warn('EXAI_WS_TOKEN is empty: authentication is disabled (allowed on loopback only)', 'Bootstrap');
  }
  log.log(`EXAI Gateway listening on ${wsUrl(await app.getUrl())}`, 'Bootstrap');
  return app;
}

const HARD_EXIT_MS = 10_000;

/**
 * SIGTERM/SIGINT close the app and exit 0. Nest's own shutdown hooks re-raise
 * the signal after closing (exit 143); a clean stop must exit 0, and a stuck
 * one must still end within 10 s.
 */
export function exitOnSignals(app: INestApplication): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const hardExit = setTimeout(() => process.exit(1), HARD_EXIT_MS);
    hardExit.unref();
    app
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        process.stderr.write(`Shutdown failed after ${signal}: ${String(err)}\n`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
