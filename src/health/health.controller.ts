import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { OperatorOnly } from '../http/operator-only.decorator';
import { HealthService } from './health.service';

@Controller('health')
export class HealthController {
  constructor(
    private readonly healthService: HealthService,
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
  ) {}

  /** The detailed snapshot (providers, last errors, sessions): operators only off loopback. */
  @Get()
  @HealthCheck()
  @OperatorOnly()
  check(): Promise<HealthCheckResult> {
    return this.healthService.check();
  }

  /** Liveness: the event loop answers. A blocked loop never gets here, which is the point. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([
      async () => {
        const started = process.hrtime.bigint();
        await new Promise((resolve) => setImmediate(resolve));
        const lagMs = Number(process.hrtime.bigint() - started) / 1e6;
        return this.indicator.check('event_loop').up({ lag_ms: Math.round(lagMs * 100) / 100 });
      },
    ]);
  }

  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.healthService.ready();
  }
}
