import { DynamicModule, Module, Type } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AppConfigModule } from './app-config.module';
import { GatewayAuthModule } from './gateway/gateway-auth.module';
import { GatewayModule } from './gateway/gateway.module';
import { HealthModule } from './health/health.module';
import { HttpModule } from './http/http.module';
import { ConcurrencyModule } from './concurrency/concurrency.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OpenAiModule } from './openai/openai.module';
import { ProvidersModule } from './providers/providers.module';
import { RoutingModule } from './routing/routing.module';
import { SimulatorModule } from './simulator/simulator.module';
import { ToolsModule } from './tools/tools.module';

export interface AppModuleOptions {
  /** Extension modules (tools, providers, health indicators) loaded beside ours. */
  extensions?: Array<Type | DynamicModule>;
}

/**
 * A dynamic module so that configuration is read and validated when the
 * daemon is created, not when this file is imported.
 */
@Module({})
export class AppModule {
  /** @throws ConfigValidationError naming every bad variable. */
  static async forRoot(options: AppModuleOptions = {}): Promise<DynamicModule> {
    // Awaited here so a bad config rejects this call, where the caller can
    // report it, instead of surfacing later as an unhandled rejection.
    const config = await AppConfigModule.forRoot();
    return {
      module: AppModule,
      imports: [
        config,
        LoggingModule,
        // The only ScheduleModule.forRoot(): each import would run every @Cron again.
        ScheduleModule.forRoot(),
        GatewayAuthModule,
        HttpModule,
        MetricsModule,
        HealthModule,
        ConcurrencyModule,
        SimulatorModule,
        ProvidersModule,
        RoutingModule,
        ToolsModule,
        GatewayModule,
        OpenAiModule,
        ...(options.extensions ?? []),
      ],
    };
  }
}
