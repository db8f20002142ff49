import { Injectable } from '@nestjs/common';
import { humanDuration } from '../common/package-info';
import { ConcurrencySnapshotService } from '../concurrency/concurrency-snapshot.service';
import { HealthService } from '../health/health.service';
import { ToolRegistryService } from '../tools/tool-registry.service';
import { ConnectionsService } from './connections.service';
import { epochSeconds } from './dto/server-frames';

/** Builds the `health` op's reply: the `/health` snapshot plus the old daemon's keys. */
@Injectable()
export class GatewayStatusService {
  private readonly startedAt = Date.now();

  constructor(
    private readonly concurrency: ConcurrencySnapshotService,
    private readonly health: HealthService,
    private readonly connections: ConnectionsService,
    private readonly tools: ToolRegistryService,
  ) {}

  async healthFrame(): Promise<{ op: 'health_res'; ok: true; health: Record<string, unknown> }> {
    const [snapshot, concurrency] = await Promise.all([this.health.snapshot(), this.concurrency.snapshot()]);
    return {
      op: 'health_res',
      ok: true,
      health: {
        status: snapshot.status,
        ...snapshot.details,
        t: epochSeconds(),
        uptime_human: humanDuration(Date.now() - this.startedAt),
        sessions: this.connections.stats().sessions,
        global_capacity: concurrency.capacity.global,
        global_inflight: concurrency.inFlight.global,
        tool_count: this.tools.size,
      },
    };
  }
}
