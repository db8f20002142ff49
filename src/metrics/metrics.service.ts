import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FoldedCounter, FoldedHistogram } from './folded-metrics';

type Collector = () => Promise<void> | void;

/**
 * Every Prometheus metric of the daemon, on a registry owned by this provider
 * (not prom-client's global one), so two daemons in one process never share
 * counters. Labels are bounded: no session or request ids. The metrics every
 * call touches (admissions, queue wait, calls, call duration) are folded:
 * a call adds to plain tallies, and prom-client reads them at scrape time.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly collectors: Collector[] = [];

  readonly inflight = new Gauge({
    name: 'exai_inflight',
    help: 'Calls holding a permit, per limit',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly capacity = new Gauge({
    name: 'exai_capacity',
    help: 'Permits per limit',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'exai_queue_depth',
    help: 'Calls waiting for admission',
    registers: [this.registry],
  });
  readonly queueWait = new FoldedHistogram({
    name: 'exai_queue_wait_seconds',
    help: 'Time from arrival to admission',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly admissions = new FoldedCounter({
    name: 'exai_admissions_total',
    help: 'Admission outcomes: admitted, queued, rejected, timeout, cancelled',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly leasesLost = new Counter({
    name: 'exai_leases_lost_total',
    help: 'Permits the shared limiter lost (Redis came back empty) and could not take back, by the full limit; each call was aborted',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly leasesReclaimed = new Counter({
    name: 'exai_leases_reclaimed_total',
    help: 'Leases reclaimed by the leak audit; should stay 0',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly calls = new FoldedCounter({
    name: 'exai_calls_total',
    help: 'Finished calls by tool and outcome',
    labelNames: ['tool', 'outcome'],
    registers: [this.registry],
  });
  readonly callDuration = new FoldedHistogram({
    name: 'exai_call_duration_seconds',
    help: 'Call duration from admission to its end',
    labelNames: ['tool'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly providerRequests = new Counter({
    name: 'exai_provider_requests_total',
    help: 'Upstream LLM requests by provider and outcome',
    labelNames: ['provider', 'outcome'],
    registers: [this.registry],
  });
  readonly providerLatency = new Histogram({
    name: 'exai_provider_latency_seconds',
    help: 'Upstream LLM request latency',
    labelNames: ['provider'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly providerRetries = new Counter({
    name: 'exai_provider_retries_total',
    help: 'Upstream retries',
    labelNames: ['provider'],
    registers: [this.registry],
  });
  readonly providerCircuit = new Gauge({
    name: 'exai_provider_circuit_state',
    help: 'Circuit state per provider: 0 closed, 1 half-open, 2 open',
    labelNames: ['provider'],
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'exai_tokens_total',
    help: 'Tokens reported by providers, by kind: prompt, completion, cached (part of prompt), reasoning (part of completion)',
    labelNames: ['provider', 'model', 'kind'],
    registers: [this.registry],
  });
  readonly routingCache = new Counter({
    name: 'exai_routing_cache_total',
    help: 'Routing cache lookups by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly wsConnections = new Gauge({
    name: 'exai_ws_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  readonly wsPendingHellos = new Gauge({
    name: 'exai_ws_pending_hellos',
    help: 'Open WebSocket connections that have not completed their hello',
    registers: [this.registry],
  });
  readonly wsRefused = new Counter({
    name: 'exai_ws_refused_total',
    help: 'Connections refused or dropped before or at the hello, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly wsDroppedFrames = new Counter({
    name: 'exai_ws_dropped_frames_total',
    help: 'Optional frames (progress, heartbeats) not sent because the client was not reading',
    registers: [this.registry],
  });
  readonly wsSlowClientClosed = new Counter({
    name: 'exai_ws_slow_client_closed_total',
    help: 'Connections closed because a result could not be queued within EXAI_WS_MAX_BUFFERED_BYTES',
    registers: [this.registry],
  });
  readonly wsRateLimited = new Counter({
    name: 'exai_ws_rate_limited_total',
    help: 'Frames answered with RATE_LIMITED, by op',
    labelNames: ['op'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Present from the start: a reclaim counter that only appears after the
    // first leak cannot be alerted on with a simple "> 0".
    for (const reason of ['expired', 'orphaned', 'drift']) this.leasesReclaimed.inc({ reason }, 0);
    for (const limit of ['global', 'session']) this.leasesLost.inc({ limit }, 0);
  }

  /** Registers a callback that refreshes gauges right before each scrape. */
  addCollector(collector: Collector): void {
    this.collectors.push(collector);
  }

  async render(): Promise<string> {
    for (const collect of this.collectors) await collect();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
