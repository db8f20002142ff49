import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import type { AllConfigType } from './config/config.type';
import { GatewayWsAdapter } from './gateway/gateway.adapter';

/** Wires what every daemon instance needs: logger and the EXAI WebSocket adapter. */
export function configureApp(app: INestApplication): void {
  app.useLogger(app.get(Logger));
  const gateway = app.get(ConfigService<AllConfigType, true>).get('gateway', { infer: true });
  app.useWebSocketAdapter(new GatewayWsAdapter(app, { maxPayload: gateway.maxBytes }));
}

export interface StartOptions {
  extensions?: Array<Type | DynamicModule>;
  /** Overrides EXAI_WS_PORT (tests pass 0). */
  port?: number;
  nest?: NestApplicationOptions;
}

/** Creates, configures and starts a daemon; resolves once it listens. */
export async function startDaemon(options: StartOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot({ extensions: options.extensions }), {
    bufferLogs: true,
    ...options.nest,
  });
  configureApp(app);
  const gateway = app.get(ConfigService<AllConfigType, true>).get('gateway', { infer: true });
  await app.listen(options.port ?? gateway.port, gateway.host);
  return app;
}
