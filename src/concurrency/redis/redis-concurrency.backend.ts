import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { failFastRedisOptions } from '../../common/redis-options';
import type { ConcurrencyConfig } from '../concurrency.config';
import { AdmitResult, ConcurrencyBackend, DriftRepair, LimiterUnavailableError } from '../concurrency-backend';
import type { LimitSlot } from '../lease';
import { MemoryConcurrencyBackend } from '../memory-concurrency.backend';
import { LIMIT_SCRIPTS } from './redis-admission.lua';

const PREFIX = '{exai}';
const RELEASED_CHANNEL = `${PREFIX}:released`;
/** Set while a call on any daemon waits for a permit; releases publish only then. */
const WAITING_FLAG = `${PREFIX}:waiting`;
const WAITING_FLAG_MIN_MS = 10_000;
/** How often a limiter marked down asks Redis whether it answers again, while its connection stays up. */
const RECOVERY_PROBE_MS = 500;

interface Held {
  keys: string[];
  slots: readonly LimitSlot[];
  local: boolean;
}

/**
 * Limits shared by every daemon on one Redis. Each limit is a sorted set of
 * `daemon:lease` members scored by expiry; admission is one Lua script; held
 * leases are refreshed every TTL/3, so a crashed daemon's permits expire
 * within EXAI_LEASE_TTL_SECS. Release removes the member and, when
 * anyone waits, publishes, so waiters on every daemon wake. Both are scripts
 * sent by SHA1 (EVALSHA), one round trip each.
 *
 * A refresh that finds its member gone (Redis restarted without its data)
 * re-admits it where there is room and otherwise aborts the call. The limit
 * wins over the running call on purpose: it stands for a provider's hard
 * concurrency quota, and re-adding every lost member unconditionally would let
 * the daemons that kept running and those that admitted meanwhile together
 * exceed it until the older calls end.
 */
export class RedisConcurrencyBackend extends ConcurrencyBackend implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisConcurrencyBackend.name);
  readonly daemonId = randomUUID().slice(0, 8);
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly held = new Map<string, Held>();
  /** The daemon-wide limits (global, providers): always watched. */
  private readonly staticKeys = new Set<string>();
  /**
   * Other keys (sessions) refused and not admitted since, by when: a limit
   * other daemons may hold full stays visible while calls wait on it. Dropped
   * on admission, or one lease TTL after the last refusal, so what `/health`
   * and the audit read grows with the sessions in use, not every session seen.
   */
  private readonly refused = new Map<string, number>();
  private readonly listeners: Array<() => void> = [];
  private readonly lostListeners: Array<(leaseId: string, full: LimitSlot) => void> = [];
  private readonly fallback = new MemoryConcurrencyBackend();
  private refreshTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private healthy = false;
  private usingLocal = false;
  private stopping = false;

  constructor(private readonly config: ConcurrencyConfig) {
    super();
    const options = failFastRedisOptions();
    this.redis = new Redis(config.redisUrl, options);
    this.subscriber = new Redis(config.redisUrl, { ...options, enableOfflineQueue: true });
    for (const [name, lua] of Object.entries(LIMIT_SCRIPTS)) this.redis.defineCommand(name, { lua });
    this.redis.on('ready', () => this.setHealthy(true));
    this.redis.on('error', () => undefined);
    this.redis.on('close', () => this.setHealthy(false));
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', () => this.freed());
    // Daemon-wide limits are watched from the start, so counts and the audit
    // see other daemons' permits even before this one takes any.
    this.staticKeys.add(this.key('global'));
    for (const provider of Object.keys(config.limits.providers)) this.staticKeys.add(this.key(`provider:${provider}`));
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.redis.connect().catch(() => undefined), this.subscriber.connect().catch(() => undefined)]);
    await this.subscriber.subscribe(RELEASED_CHANNEL).catch(() => undefined);
    const every = Math.max(100, Math.floor(this.config.leaseTtlMs / 3));
    this.refreshTimer = setInterval(() => void this.refresh(), every);
    this.refreshTimer.unref();
    if (!this.healthy)
      this.logger.error(
        `Redis at ${redactUrl(this.config.redisUrl)} is unreachable at boot (failure mode ${this.config.redisFailureMode})`,
      );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.probeTimer);
    // Give our permits back so other daemons need not wait for the TTL.
    const pipeline = this.redis.pipeline();
    for (const [id, h] of this.held) if (!h.local) for (const key of h.keys) pipeline.zrem(key, this.member(id));
    await pipeline.exec().catch(() => undefined);
    this.redis.disconnect();
    this.subscriber.disconnect();
  }

  override get distributed(): boolean {
    return true;
  }

  override get available(): boolean {
    return this.healthy || this.config.redisFailureMode === 'local';
  }

  override onCapacityFreed(listener: () => void): void {
    this.listeners.push(listener);
  }

  override onLeaseLost(listener: (leaseId: string, full: LimitSlot) => void): void {
    this.lostListeners.push(listener);
  }

  async tryAdmit(leaseId: string, slots: readonly LimitSlot[]): Promise<AdmitResult> {
    if (!this.healthy) return this.degraded(leaseId, slots);
    const keys = slots.map((s) => this.key(s.key));
    const now = Date.now();
    let full: number;
    try {
      full = Number(
        await this.redis.exaiAdmit(keys.length + 1, ...keys, WAITING_FLAG, ...this.admitArgs(leaseId, slots, now)),
      );
    } catch (err) {
      this.setHealthy(false, (err as Error).message);
      return this.degraded(leaseId, slots);
    }
    if (full > 0) {
      // Watched while calls wait on it, so counts show a limit other daemons hold full.
      for (const k of keys) if (!this.staticKeys.has(k)) this.refused.set(k, now);
      return { ok: false, full: slots[full - 1] };
    }
    this.held.set(leaseId, { keys, slots, local: false });
    // Held keys are watched anyway; once released they need not be.
    for (const k of keys) this.refused.delete(k);
    return { ok: true };
  }

  async remove(leaseId: string, keys: readonly string[]): Promise<void> {
    const held = this.held.get(leaseId);
    this.held.delete(leaseId);
    if (held?.local) return this.fallback.remove(leaseId, keys);
    const redisKeys = keys.map((k) => this.key(k));
    // Unreachable Redis: the member is no longer refreshed, so it expires by TTL.
    await this.redis
      .exaiRelease(
        redisKeys.length + 1,
        ...redisKeys,
        WAITING_FLAG,
        this.member(leaseId),
        RELEASED_CHANNEL,
        this.daemonId,
      )
      .catch(() => undefined);
  }

  async counts(): Promise<Map<string, number>> {
    const out = await this.fallback.counts();
    if (!this.healthy) return out;
    const now = Date.now();
    const keys = this.watchedKeys(now);
    const pipeline = this.redis.pipeline();
    for (const k of keys) pipeline.zcount(k, now, '+inf');
    const results = (await pipeline.exec().catch(() => null)) ?? [];
    keys.forEach((k, i) => out.set(this.unkey(k), (out.get(this.unkey(k)) ?? 0) + (Number(results[i]?.[1]) || 0)));
    return out;
  }

  /** This daemon's members only: other daemons' permits are theirs to audit. */
  async members(): Promise<Map<string, Set<string>>> {
    const out = await this.fallback.members();
    if (!this.healthy) return out;
    const mine = `${this.daemonId}:`;
    for (const key of this.watchedKeys()) {
      const members = await this.redis.zrangebyscore(key, Date.now(), '+inf').catch(() => [] as string[]);
      const ids = members.filter((m) => m.startsWith(mine)).map((m) => m.slice(mine.length));
      if (ids.length > 0) out.set(this.unkey(key), new Set([...(out.get(this.unkey(key)) ?? []), ...ids]));
    }
    return out;
  }

  /** Counts are ZCARDs of the member sets, so they cannot drift; the local fallback can. */
  repairDrift(): Promise<DriftRepair[]> {
    return this.fallback.repairDrift();
  }

  /** Members past their expiry belong to daemons that stopped refreshing (crashed); drop and count them. */
  override async sweepAbandoned(): Promise<number> {
    if (!this.healthy) return 0;
    const now = Date.now();
    let n = 0;
    for (const key of this.watchedKeys(now)) n += await this.redis.zremrangebyscore(key, '-inf', now).catch(() => 0);
    return n;
  }

  private degraded(leaseId: string, slots: readonly LimitSlot[]): Promise<AdmitResult> {
    if (this.config.redisFailureMode === 'closed') throw new LimiterUnavailableError('Redis unreachable');
    return this.fallback.tryAdmit(leaseId, slots).then((r) => {
      if (r.ok) this.held.set(leaseId, { keys: slots.map((s) => s.key), slots, local: true });
      return r;
    });
  }

  /**
   * Pushes every held lease's expiry on with the admission script itself, so
   * a member that vanished is admitted again where it fits; where it does not,
   * the lease is reported lost and its call aborted.
   */
  private async refresh(): Promise<void> {
    if (!this.healthy || this.held.size === 0) return;
    const now = Date.now();
    const ids: string[] = [];
    const pipeline = this.redis.pipeline();
    for (const [id, h] of this.held) {
      if (h.local) continue;
      ids.push(id);
      pipeline.exaiAdmit(h.keys.length + 1, ...h.keys, WAITING_FLAG, ...this.admitArgs(id, h.slots, now));
    }
    if (ids.length === 0) return;
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      this.setHealthy(false, (err as Error).message);
      return;
    }
    (results ?? []).forEach(([err, full], i) => {
      const h = this.held.get(ids[i]);
      const n = Number(full);
      // Released meanwhile, or refreshed fine.
      if (err || !h || !(n > 0)) return;
      for (const listener of this.lostListeners) listener(ids[i], h.slots[n - 1]);
    });
  }

  private admitArgs(leaseId: string, slots: readonly LimitSlot[], now: number): Array<string | number> {
    // Keys outlive their newest member by one audit interval, so the audit can
    // still see and report a crashed daemon's permits before the key goes.
    const keepMs = this.config.leaseTtlMs + this.config.leakAuditIntervalSecs * 1000;
    // Far above the waiters' retry interval, so the flag cannot lapse while anyone waits.
    const waitingMs = Math.max(this.config.leaseTtlMs, WAITING_FLAG_MIN_MS);
    return [
      now,
      now + this.config.leaseTtlMs,
      this.member(leaseId),
      keepMs,
      waitingMs,
      ...slots.map((s) => s.capacity),
    ];
  }

  /** The daemon-wide limits, the keys of held leases, and keys refused within one lease TTL. */
  private watchedKeys(now = Date.now()): string[] {
    const keys = new Set(this.staticKeys);
    for (const h of this.held.values()) if (!h.local) for (const k of h.keys) keys.add(k);
    for (const [k, at] of this.refused) {
      if (at < now - this.config.leaseTtlMs) this.refused.delete(k);
      else keys.add(k);
    }
    return [...keys];
  }

  private setHealthy(healthy: boolean, why?: string): void {
    if (healthy === this.healthy || this.stopping) return;
    this.healthy = healthy;
    this.watchRecovery(!healthy);
    if (!healthy) {
      const local = this.config.redisFailureMode === 'local';
      this.usingLocal = local;
      this.logger.error(
        `REDIS LIMITER DOWN${why ? ` (${why})` : ''}: ${local ? 'falling back to this daemon’s own in-memory limits' : 'refusing new calls with OVER_CAPACITY until it returns'}`,
      );
    } else {
      if (this.usingLocal)
        this.logger.warn('REDIS LIMITER BACK: shared limits restored; local fallback leases finish locally');
      else this.logger.log(`Redis limiter connected at ${redactUrl(this.config.redisUrl)}`);
      this.usingLocal = false;
      this.freed();
    }
  }

  /**
   * A command that timed out or failed leaves the connection up, so no
   * reconnect will ever say Redis is back: while down, ask it ourselves.
   */
  private watchRecovery(on: boolean): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    if (!on) return;
    this.probeTimer = setInterval(() => {
      if (this.redis.status !== 'ready') return; // a reconnect's 'ready' restores health
      this.redis.ping().then(
        () => this.setHealthy(true),
        () => undefined,
      );
    }, RECOVERY_PROBE_MS);
    this.probeTimer.unref();
  }

  private freed(): void {
    for (const l of this.listeners) l();
  }

  private key(limitKey: string): string {
    return `${PREFIX}:limit:${limitKey}`;
  }

  private unkey(key: string): string {
    return key.slice(`${PREFIX}:limit:`.length);
  }

  private member(leaseId: string): string {
    return `${this.daemonId}:${leaseId}`;
  }
}

/** Never log a Redis password. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
