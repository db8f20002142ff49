import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../../metrics/metrics.service';
import type { AttemptReport } from '../../providers/llm-provider';
import { LlmProviderRegistry } from '../../providers/llm-provider-registry.service';
import { concurrencyConfig } from '../concurrency.config';
import { LeaseLedger } from '../lease-ledger';
import {
  AdaptiveBounds,
  AdaptiveTuning,
  effectiveLimit,
  initialState,
  LatencyGradient,
  LimitState,
  LimitStep,
} from './adaptive-limit';
import { adaptiveConcurrencyConfig, ConcurrencyMode } from './adaptive.config';
import { LimitStore, MemoryLimitStore } from './limit-store';
import { classifyOverload, OVERLOAD_SIGNALS } from './overload-signal';
import { ProviderCapacity } from './provider-capacity';
import { RedisLimitStore } from './redis-limit.store';

/** One point of the limit history every this many ms, kept for HISTORY_POINTS points (10 minutes). */
const HISTORY_STEP_MS = 5000;
const HISTORY_POINTS = 120;
/** At most one limit-change log line per provider this often; the rest are counted into the next. */
const LOG_INTERVAL_MS = 5000;

interface ProviderLimit {
  provider: string;
  mode: ConcurrencyMode;
  bounds: AdaptiveBounds;
  gradient: LatencyGradient;
  state: LimitState;
  limit: number;
  /** Sequence of the last applied store answer, so a late answer never overwrites a newer one. */
  applied: number;
  issued: number;
  history: Array<[number, number]>;
  lastLogAt: number;
  unlogged: number;
  lastReason: string;
}

export interface ProviderLimitView {
  mode: ConcurrencyMode;
  limit: number;
  ceiling: number;
  min: number;
  phase?: string;
  latency_ratio?: number;
  /** [epoch ms, limit] every 5 s over the last 10 minutes, oldest first. */
  history: Array<[number, number]>;
}

/**
 * The Nest side of adaptive concurrency: listens to every provider's upstream
 * attempts, turns them into steps (adaptive-limit.ts), applies them to the
 * limit store, and answers admission's `limitOf` with the result. Static
 * providers are listed too (limit = ceiling), so metrics and health look the
 * same in both modes.
 */
@Injectable()
export class AdaptiveConcurrencyService extends ProviderCapacity implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AdaptiveConcurrencyService.name);
  private readonly limits = new Map<string, ProviderLimit>();
  private readonly raised: Array<() => void> = [];
  private readonly store: LimitStore;
  private readonly tuning: AdaptiveTuning;
  private readonly limitGauge: Gauge;
  private readonly overloads: Counter;
  private historyTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly clock: () => number = Date.now;

  constructor(
    @Inject(concurrencyConfig.KEY) concurrency: ConfigType<typeof concurrencyConfig>,
    @Inject(adaptiveConcurrencyConfig.KEY) private readonly config: ConfigType<typeof adaptiveConcurrencyConfig>,
    private readonly registry: LlmProviderRegistry,
    private readonly ledger: LeaseLedger,
    metrics: MetricsService,
  ) {
    super();
    this.tuning = { backoff: config.backoff, tolerance: config.tolerance };
    const anyAdaptive = Object.values(config.modes).includes('adaptive');
    this.store =
      anyAdaptive && concurrency.backend === 'redis'
        ? new RedisLimitStore(concurrency.redisUrl, this.tuning, this.clock)
        : new MemoryLimitStore(this.tuning, this.clock);
    this.limitGauge = new Gauge({
      name: 'exai_provider_limit',
      help: 'Effective concurrency limit per provider (the ceiling in static mode)',
      labelNames: ['provider'],
      registers: [metrics.registry],
    });
    this.overloads = new Counter({
      name: 'exai_provider_overload_total',
      help: 'Upstream answers that mean overload, per provider and signal',
      labelNames: ['provider', 'signal'],
      registers: [metrics.registry],
    });
    for (const [provider, ceiling] of Object.entries(concurrency.limits.providers)) {
      const mode = config.modes[provider] ?? 'static';
      const min = Math.min(ceiling, config.mins[provider] ?? 1);
      if ((config.mins[provider] ?? 1) > ceiling) {
        this.logger.warn(`${provider} minimum in-flight ${config.mins[provider]} is above its ceiling ${ceiling}`);
      }
      const bounds = { min, max: ceiling };
      const state =
        mode === 'adaptive'
          ? initialState(bounds)
          : { value: ceiling, cutAt: 0, brakeAt: 0, phase: 'avoidance' as const };
      const entry: ProviderLimit = {
        provider,
        mode,
        bounds,
        gradient: new LatencyGradient({ ...this.tuning, baselineWindowMs: config.baselineWindowMs }, this.clock),
        state,
        limit: effectiveLimit(state, bounds),
        applied: 0,
        issued: 0,
        history: [],
        lastLogAt: 0,
        unlogged: 0,
        lastReason: 'start',
      };
      this.limits.set(provider, entry);
      this.limitGauge.set({ provider }, entry.limit);
      for (const signal of OVERLOAD_SIGNALS) this.overloads.inc({ provider, signal }, 0);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const provider of this.registry.all()) provider.onAttempt((r) => this.onAttempt(r));
    if (this.store instanceof RedisLimitStore) await this.store.connect();
    const adaptive = this.adaptive();
    for (const entry of adaptive) {
      this.settle(entry, await this.store.load(entry.provider, entry.bounds), 'start', ++entry.issued);
      this.logger.log(
        `${entry.provider} concurrency is adaptive: limit ${entry.limit}, between ${entry.bounds.min} and ${entry.bounds.max}${this.store.shared ? ' (shared through Redis)' : ''}`,
      );
    }
    this.recordHistory();
    this.historyTimer = setInterval(() => this.recordHistory(), HISTORY_STEP_MS);
    this.historyTimer.unref();
    if (this.store.shared && adaptive.length > 0) {
      // Other daemons move the shared value too; re-read it so admission here follows.
      this.syncTimer = setInterval(() => void this.sync(), this.config.syncMs);
      this.syncTimer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.historyTimer);
    clearInterval(this.syncTimer);
    await this.store.close();
  }

  limitOf(provider: string): number | undefined {
    const entry = this.limits.get(provider);
    return entry?.mode === 'adaptive' ? entry.limit : undefined;
  }

  onRaised(listener: () => void): void {
    this.raised.push(listener);
  }

  /** Each provider's mode, effective limit, ceiling and recent history, for `/health` and the status page. */
  view(): Record<string, ProviderLimitView> {
    const out: Record<string, ProviderLimitView> = {};
    for (const e of this.limits.values()) {
      out[e.provider] = {
        mode: e.mode,
        limit: e.limit,
        ceiling: e.bounds.max,
        min: e.bounds.min,
        ...(e.mode === 'adaptive'
          ? { phase: e.state.phase, latency_ratio: Math.round(e.gradient.ratio * 100) / 100 }
          : {}),
        history: [...e.history],
      };
    }
    return out;
  }

  /** One upstream attempt: counts overloads for every provider, moves the limit of adaptive ones. */
  onAttempt(report: AttemptReport): void {
    const entry = this.limits.get(report.provider);
    if (!entry) return;
    const signal = report.ok ? undefined : classifyOverload(report.status, report.providerCode);
    if (signal) this.overloads.inc({ provider: entry.provider, signal });
    if (entry.mode !== 'adaptive' || (!report.ok && !signal)) return;
    const step: LimitStep = signal
      ? { kind: 'cut', startedAt: report.startedAt, reason: `overload ${signal}` }
      : entry.gradient.onSuccess({
          startedAt: report.startedAt,
          firstTokenMs: report.firstTokenMs,
          family: report.family,
          inflight: this.inflight(entry.provider),
        });
    if (step.kind === 'hold' && entry.state.phase === 'avoidance') return;
    const seq = ++entry.issued;
    this.store.apply(entry.provider, step, entry.bounds).then(
      (state) => this.settle(entry, state, step.reason, seq),
      (err: unknown) => this.logger.error({ msg: 'Adaptive limit update failed', provider: entry.provider, err }),
    );
  }

  private adaptive(): ProviderLimit[] {
    return [...this.limits.values()].filter((e) => e.mode === 'adaptive');
  }

  private inflight(provider: string): number {
    let n = 0;
    for (const lease of this.ledger.all()) if (lease.holder.provider === provider) n++;
    return n;
  }

  private async sync(): Promise<void> {
    for (const entry of this.adaptive()) {
      const seq = ++entry.issued;
      const state = await this.store.load(entry.provider, entry.bounds).catch(() => undefined);
      if (state) this.settle(entry, state, 'shared limit moved by another daemon', seq);
    }
  }

  private settle(entry: ProviderLimit, state: LimitState, reason: string, seq: number): void {
    if (seq < entry.applied) return;
    entry.applied = seq;
    entry.state = state;
    const before = entry.limit;
    entry.limit = effectiveLimit(state, entry.bounds);
    if (entry.limit === before) return;
    this.limitGauge.set({ provider: entry.provider }, entry.limit);
    entry.lastReason = reason;
    this.logChange(entry, before, reason);
    if (entry.limit > before) for (const listener of this.raised) listener();
  }

  private logChange(entry: ProviderLimit, before: number, reason: string): void {
    const now = this.clock();
    if (now - entry.lastLogAt < LOG_INTERVAL_MS) {
      entry.unlogged++;
      return;
    }
    this.logger.log({
      msg: `${entry.provider} concurrency limit ${before} -> ${entry.limit} (${reason})`,
      provider: entry.provider,
      limit: entry.limit,
      previous: before,
      reason,
      ...(entry.unlogged > 0 ? { changes_not_logged: entry.unlogged } : {}),
    });
    entry.lastLogAt = now;
    entry.unlogged = 0;
  }

  private recordHistory(): void {
    const now = this.clock();
    for (const entry of this.limits.values()) {
      entry.history.push([now, entry.limit]);
      if (entry.history.length > HISTORY_POINTS) entry.history.shift();
      // Changes held back by the log rate limit are told once things are quiet.
      if (entry.unlogged > 0 && now - entry.lastLogAt >= LOG_INTERVAL_MS) {
        this.logger.log({
          msg: `${entry.provider} concurrency limit now ${entry.limit} (${entry.lastReason})`,
          provider: entry.provider,
          limit: entry.limit,
          reason: entry.lastReason,
          changes_not_logged: entry.unlogged,
        });
        entry.lastLogAt = now;
        entry.unlogged = 0;
      }
    }
  }
}
