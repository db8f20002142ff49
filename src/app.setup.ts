import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import type { AllConfigType } from './app-config.type';
import { GatewayWsAdapter } from './gateway/gateway.adapter';
import { ExaiExpressAdapter } from './http/express-http.adapter';
import { LogDestination } from './logging/log-destination';
import { BootQuietLogger } from './logging/boot-quiet.logger';

/** The port is taken: reported as one line by main(), not a stack trace. */
export class PortInUseError extends Error {
  constructor(host: string, port: number) {
    super(
      `Port ${port} on ${host} is already in use (another EXAI Gateway?). ` +
        `Stop it, or set EXAI_WS_PORT to a free port.`,
    );
    this.name = 'PortInUseError';
  }
}

/** Wires what every daemon instance needs: logger and the EXAI WebSocket adapter. */
export function configureApp(app: INestApplication): void {
  app.useLogger(new BootQuietLogger(app.get(Logger)));
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

/** The address the server really bound, as host:port (IPv6 in brackets). */
function boundAddress(app: INestApplication): { host: string; port: number; text: string } {
  const addr = (app.getHttpServer() as Server).address() as AddressInfo;
  const host = addr.family === 'IPv6' || addr.family === (6 as unknown as string) ? `[${addr.address}]` : addr.address;
  return { host, port: addr.port, text: `${host}:${addr.port}` };
}

/** Where a local client connects: a wildcard bind is reached on loopback. */
function connectHost(bound: string): string {
  if (bound === '0.0.0.0') return '127.0.0.1';
  if (bound === '[::]') return '[::1]';
  return bound;
}

/** What a person starting the daemon needs next: where to connect, and an MCP entry to paste. */
function banner(httpBase: string, wsUrl: string, tokenSet: boolean): string {
  const mcp = {
    mcpServers: {
      exai: {
        command: 'node',
        args: [join(__dirname, 'mcp', 'main.js')],
        env: { EXAI_WS_URL: wsUrl, ...(tokenSet ? { EXAI_WS_TOKEN: '<EXAI_WS_TOKEN>' } : {}) },
      },
    },
  };
  const auth = tokenSet ? 'Authorization: Bearer <EXAI_WS_TOKEN>' : 'no token needed';
  return [
    'EXAI Gateway ready',
    `  WebSocket   ${wsUrl}`,
    `  Status      ${httpBase}/status`,
    `  OpenAI API  ${httpBase}/v1  (${auth})`,
    `  MCP server  ${JSON.stringify(mcp)}`,
  ].join('\n');
}

/** Creates, configures and starts a daemon; resolves once it listens. */
export async function startDaemon(options: StartOptions = {}): Promise<INestApplication> {
  const root = await AppModule.forRoot({ extensions: options.extensions });
  const app = await NestFactory.create(root, new ExaiExpressAdapter(), {
    bufferLogs: true,
    // Rethrow startup failures (a tool with a bad schema, a port in use) so
    // main() reports them and exits 1, instead of Nest calling process.abort().
    abortOnError: false,
    ...options.nest,
  });
  configureApp(app);
  const gateway = app.get(ConfigService<AllConfigType, true>).get('gateway', { infer: true });
  const port = options.port ?? gateway.port;
  try {
    await app.listen(port, gateway.host);
  } catch (err) {
    await app.close().catch(() => undefined);
    if ((err as NodeJS.ErrnoException)?.code === 'EADDRINUSE') throw new PortInUseError(gateway.host, port);
    throw err;
  }
  const log = app.get(Logger);
  if (gateway.token === '') {
    log.warn('EXAI_WS_TOKEN is empty: authentication is disabled (allowed on loopback only)', 'Bootstrap');
  }
  const bound = boundAddress(app);
  const httpBase = `http://${connectHost(bound.host)}:${bound.port}`;
  const ws = `${httpBase.replace(/^http/, 'ws')}/`;
  log.log(`EXAI Gateway listening on ${ws} (bound ${bound.text})`, 'Bootstrap');
  log.log(banner(httpBase, ws, gateway.token !== ''), 'Bootstrap');
  app.get(LogDestination, { strict: false }).flush();
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
