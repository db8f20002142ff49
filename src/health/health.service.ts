import { Injectable, OnModuleInit, ServiceUnavailableException } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { HealthCheckResult, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ExaiHealthIndicator } from './health.decorator';
import { HEALTH_MESSAGES, HEALTH_PROBE_TIMEOUT_MS } from './health.constants';
import type { HealthProbe } from './health-probe';

interface RegisteredProbe {
  key: string;
  probe: HealthProbe;
  health: boolean;
  ready: boolean;
}

@Injectable()
export class HealthService implements OnModuleInit {
  private probes: RegisteredProbe[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
  ) {}

  onModuleInit(): void {
    this.probes = this.discovery
      .getProviders({ metadataKey: ExaiHealthIndicator.KEY })
      .map((wrapper) => {
        const meta = this.discovery.getMetadataByDecorator(ExaiHealthIndicator, wrapper);
        return {
          key: meta?.key ?? String(wrapper.name),
          probe: wrapper.instance as HealthProbe,
          health: meta?.health ?? true,
          ready: meta?.ready ?? false,
        };
      })
      .filter((p) => typeof p.probe?.isHealthy === 'function');
  }

  /** Runs every `/health` indicator; rejects with 503 (ServiceUnavailableException) when any is down. */
  check(): Promise<HealthCheckResult> {
    return this.run(this.probes.filter((p) => p.health));
  }

  /** Readiness: the indicators that say whether this daemon can take calls. */
  ready(): Promise<HealthCheckResult> {
    return this.run(this.probes.filter((p) => p.ready));
  }

  private run(probes: RegisteredProbe[]): Promise<HealthCheckResult> {
    return this.health.check(
      probes.map(
        ({ key, probe }) =>
          () =>
            this.bounded(key, probe),
      ),
    );
  }

  /** The same result, never rejecting: for the `health` op and the `status` tool. */
  async snapshot(): Promise<HealthCheckResult> {
    try {
      return await this.check();
    } catch (err) {
      if (err instanceof ServiceUnavailableException) return err.getResponse() as HealthCheckResult;
      throw err;
    }
  }

  private bounded(key: string, probe: HealthProbe): Promise<HealthIndicatorResult> {
    const session = this.indicator.check(key);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<HealthIndicatorResult>((resolve) => {
      timer = setTimeout(() => resolve(session.down({ message: HEALTH_MESSAGES.TIMED_OUT })), HEALTH_PROBE_TIMEOUT_MS);
    });
    const probed = probe
      .isHealthy(key)
      .catch((err: unknown) =>
        session.down({ message: `${HEALTH_MESSAGES.FAILED}: ${(err as Error)?.message ?? String(err)}` }),
      );
    return Promise.race([probed, timeout]).finally(() => clearTimeout(timer));
  }
}
