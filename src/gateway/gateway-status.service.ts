import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { humanDuration } from '../common/package-info';
import { concurrencyConfig } from '../concurrency/concurrency.config';
import { HealthService } from '../health/health.service';
import { ToolRegistryService } from '../tools/tool-registry.service';
import { ConnectionsService } from './connections.service';
import { epochSeconds } from './dto/server-frames';
import { ToolCallsService } from './tool-calls.service';

/** Builds the `health` op's reply: the `/health` snapshot plus the old daemon's keys. */
@Injectable()
export class GatewayStatusService {
  private readonly startedAt = Date.now();

  constructor(
    @Inject(concurrencyConfig.KEY) private readonly concurrency: ConfigType<typeof concurrencyConfig>,
    private readonly health: HealthService,
    private readonly connections: ConnectionsService,
    private readonly calls: ToolCallsService,
    private readonly tools: ToolRegistryService,
  ) {}

  async healthFrame(): Promise<{ op: 'health_res'; ok: true; health: Record<string, unknown> }> {
    const snapshot = await this.health.snapshot();
    return {
      op: 'health_res',
      ok: true,
      health: {
        status: snapshot.status,
        ...snapshot.details,
        t: epochSeconds(),
        uptime_human: humanDuration(Date.now() - this.startedAt),
        sessions: this.connections.stats().sessions,
        global_capacity: this.concurrency.limits.global,
        global_inflight: this.calls.inFlight(),
        tool_count: this.tools.size,
      },
    };
  }
}
