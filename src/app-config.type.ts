import type { ActivityConfig } from './activity/activity.config';
import type { ConcurrencyConfig } from './concurrency/concurrency.config';
import type { GatewayConfig } from './gateway/gateway.config';
import type { LoggingConfig } from './logging/logging.config';
import type { ProvidersConfig } from './providers/providers.config';
import type { RoutingConfig } from './routing/routing.config';
import type { ToolsConfig } from './tools/tools.config';

export interface AllConfigType {
  gateway: GatewayConfig;
  concurrency: ConcurrencyConfig;
  providers: ProvidersConfig;
  routing: RoutingConfig;
  logging: LoggingConfig;
  activity: ActivityConfig;
  tools: ToolsConfig;
}
