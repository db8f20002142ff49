import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { ActivityEnv, activityConfig } from './activity/activity.config';
import {
  AdaptiveConcurrencyEnv,
  adaptiveConcurrencyConfig,
  adaptiveSettings,
} from './concurrency/adaptive/adaptive.config';
import { ConcurrencyEnv, concurrencyConfig, providerLimits } from './concurrency/concurrency.config';
import { FilesEnv, filesConfig } from './files/files.config';
import { GatewayEnv, gatewayConfig } from './gateway/gateway.config';
import { HttpEnv, httpConfig } from './http/http.config';
import { LoggingEnv, loggingConfig } from './logging/logging.config';
import { ProvidersEnv, providersConfig, providersModeProblems } from './providers/providers.config';
import { RoutingEnv, routingConfig } from './routing/routing.config';
import { SimulatorEnv, simulatorConfig } from './simulator/simulator.config';
import { StateEnv, stateConfig } from './state/state.config';
import { ToolsEnv, toolsConfig } from './tools/tools.config';
import { WorkflowEnv, workflowConfig } from './tools/workflow/workflow.config';
import { validateAll } from './config/validate-config';

export const ENV_CLASSES = [
  GatewayEnv,
  HttpEnv,
  ConcurrencyEnv,
  AdaptiveConcurrencyEnv,
  ProvidersEnv,
  SimulatorEnv,
  RoutingEnv,
  LoggingEnv,
  FilesEnv,
  ActivityEnv,
  ToolsEnv,
  WorkflowEnv,
  StateEnv,
];

@Module({})
export class AppConfigModule {
  static forRoot(): Promise<DynamicModule> {
    return ConfigModule.forRoot({
      isGlobal: true,
      envFilePath: ['.env'],
      load: [
        gatewayConfig,
        httpConfig,
        concurrencyConfig,
        adaptiveConcurrencyConfig,
        providersConfig,
        simulatorConfig,
        routingConfig,
        loggingConfig,
        filesConfig,
        activityConfig,
        toolsConfig,
        workflowConfig,
        stateConfig,
      ],
      validate: (env) =>
        validateAll(ENV_CLASSES, env as Record<string, string | undefined>, [
          (e) => providerLimits(e).problems,
          (e) => adaptiveSettings(e).problems,
          providersModeProblems,
        ]),
    });
  }
}
