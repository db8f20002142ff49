import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { failFastRedisOptions } from '../common/redis-options';
import { MemoryStateStore } from './memory-state.store';
import type { StateConfig } from './state.config';
import { StateUnavailableError } from './state.errors';
import { StateBounds, StateMap, StateMapStats, StatePolicy, StateStatus, StateStore } from './state-store';
import { STATE_GET_SCRIPT, STATE_SET_SCRIPT } from './redis-state.lua';

const PREFIX = '{exai}:state';
/** Writers racing on one entry retry this often before the update fails; each retry means another write won. */
const MAX_UPDATE_ATTEMPTS = 16;

interface StateCommands {
  exaiStateGet(data: string, lru: string, total: string, key: string, now: number): Promise<string | null>;
  exaiStateSet(
    data: string,
    lru: string,
    total: string,
    key: string,
    value: string,
    now: number,
    ttlMs: number,
    maxEntries: number,
    maxBytes: number,
    expect: string,
    mode: string,
  ): Promise<number>;
}

type StateRedis = Redis & StateCommands;

/**
 * State shared by every daemon on one Redis. While Redis is unreachable it
 * follows EXAI_REDIS_FAILURE_MODE like the limiter: `closed` refuses what
 * needs shared state (StateUnavailableError) and lets caches miss; `local`
 * keeps state in this daemon's memory, logged, and keeps reading it there
 * after Redis returns until each entry's next write moves it to Redis.
 */
export class RedisStateStore extends StateStore implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RedisStateStore.name);
  readonly redis: StateRedis;
  readonly fallback: MemoryStateStore;
  private healthy = false;
  private stopping = false;
  private lastError: string | undefined;

  constructor(
    readonly config: StateConfig,
    readonly now: () => number = Date.now,
  ) {
    super();
    this.fallback = new MemoryStateStore(now);
    this.redis = new Redis(config.redisUrl, failFastRedisOptions()) as StateRedis;
    this.redis.defineCommand('exaiStateGet', { numberOfKeys: 3, lua: STATE_GET_SCRIPT });
    this.redis.defineCommand('exaiStateSet', { numberOfKeys: 3, lua: STATE_SET_SCRIPT });
    this.redis.on('ready', () => this.setHealthy(true));
    this.redis.on('error', (err: Error) => (this.lastError = err.message));
    this.redis.on('close', () => this.setHealthy(false));
  }

  async onModuleInit(): Promise<void> {
    await this.redis.connect().catch(() => undefined);
    if (!this.healthy)
      this.logger.error(
        `Redis state store at ${redactUrl(this.config.redisUrl)} is unreachable at boot (failure mode ${this.config.failureMode})`,
      );
  }

  onModuleDestroy(): void {
    this.stopping = true;
    this.redis.disconnect();
  }

  get connected(): boolean {
    return this.healthy;
  }

  protected open(name: string, bounds: StateBounds, policy: StatePolicy): StateMap {
    return new RedisStateMap(this, name, bounds, policy);
  }

  status(): StateStatus {
    const local = this.config.failureMode === 'local';
    if (this.healthy) return { backend: 'redis', available: true, fallback: false };
    return {
      backend: 'redis',
      available: local,
      fallback: local,
      detail: `Redis unreachable${this.lastError ? ` (${this.lastError})` : ''}: ${
        local ? 'state kept in this daemon’s memory' : 'calls that need shared state are refused'
      }`,
    };
  }

  /** A command failed although the connection looked up: the same as a lost connection for this call. */
  failed(err: unknown): void {
    this.lastError = (err as Error)?.message ?? String(err);
    this.logger.warn(`Redis state command failed (${this.lastError})`);
  }

  private setHealthy(healthy: boolean): void {
    if (healthy === this.healthy || this.stopping) return;
    this.healthy = healthy;
    if (healthy) {
      this.logger.log(`REDIS STATE UP at ${redactUrl(this.config.redisUrl)}: conversations and replays are shared`);
    } else if (this.config.failureMode === 'local') {
      this.logger.warn(
        'REDIS STATE DOWN: keeping conversations, workflows and replays in this daemon’s memory; other daemons do not see what is written meanwhile',
      );
    } else {
      this.logger.error(
        'REDIS STATE DOWN: refusing calls that continue or start a conversation or workflow (OVER_CAPACITY, limit "state") until it returns',
      );
    }
  }
}

/** One map in Redis, with the failure mode applied to every operation. */
class RedisStateMap implements StateMap {
  private readonly keys: [string, string, string];
  private readonly local: StateMap;

  constructor(
    private readonly store: RedisStateStore,
    name: string,
    private readonly bounds: StateBounds,
    private readonly policy: StatePolicy,
  ) {
    this.keys = [`${PREFIX}:${name}:data`, `${PREFIX}:${name}:lru`, `${PREFIX}:${name}:bytes`];
    this.local = store.fallback.map(name, bounds, policy);
  }

  async get(key: string): Promise<string | undefined> {
    const shared = await this.shared(() => this.read(key));
    if (shared === unreachable) return this.degraded(() => this.local.get(key), undefined);
    // In `local` mode an entry written while Redis was away is still here.
    return shared?.value ?? (this.keepsLocal ? this.local.get(key) : undefined);
  }

  async set(key: string, value: string): Promise<boolean> {
    const stored = await this.shared(() => this.write(key, value, ''));
    if (stored === unreachable) return this.degraded(() => this.local.set(key, value), false);
    if (this.keepsLocal) await this.local.delete(key);
    return stored === 1;
  }

  async update(key: string, change: (current: string | undefined) => string | undefined): Promise<void> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      // What `change` throws is the caller's answer, not a Redis failure.
      let refused: { err: unknown } | undefined;
      const outcome = await this.shared(async () => {
        const current = await this.read(key);
        const base = current?.value ?? (this.keepsLocal ? await this.local.get(key) : undefined);
        let next: string | undefined;
        try {
          next = change(base);
        } catch (err) {
          refused = { err };
          return 0;
        }
        return this.write(key, next ?? '', String(current?.version ?? 0), next === undefined);
      });
      if (refused) throw refused.err;
      if (outcome === unreachable) return this.degraded(() => this.local.update(key, change), undefined);
      if (outcome !== -1) {
        if (this.keepsLocal) await this.local.delete(key);
        return;
      }
    }
    throw new Error(`state entry ${key} changed by other writers ${MAX_UPDATE_ATTEMPTS} times in a row`);
  }

  async delete(key: string): Promise<void> {
    await this.local.delete(key);
    const done = await this.shared(() => this.write(key, '', '', true));
    if (done === unreachable && this.policy === 'required' && !this.keepsLocal) throw new StateUnavailableError();
  }

  async stats(): Promise<StateMapStats> {
    const local = await this.local.stats();
    const shared = await this.shared(async () => {
      const [[, entries], [, bytes]] = ((await this.store.redis
        .pipeline()
        .zcard(this.keys[1])
        .get(this.keys[2])
        .exec()) ?? [
        [null, 0],
        [null, 0],
      ]) as Array<[Error | null, unknown]>;
      return { entries: Number(entries) || 0, bytes: Number(bytes) || 0 };
    });
    if (shared === unreachable) return local;
    return { entries: shared.entries + local.entries, bytes: shared.bytes + local.bytes };
  }

  private get keepsLocal(): boolean {
    return this.store.config.failureMode === 'local';
  }

  private async read(key: string): Promise<{ value: string; version: number } | undefined> {
    const raw = await this.store.redis.exaiStateGet(...this.keys, key, this.store.now());
    if (raw === null) return undefined;
    const a = raw.indexOf(':');
    const b = raw.indexOf(':', a + 1);
    return { version: Number(raw.slice(a + 1, b)), value: raw.slice(b + 1) };
  }

  private write(key: string, value: string, expect: string, del = false): Promise<number> {
    const { maxEntries, maxBytes, ttlMs } = this.bounds;
    return this.store.redis
      .exaiStateSet(...this.keys, key, value, this.store.now(), ttlMs, maxEntries, maxBytes, expect, del ? 'del' : '')
      .then(Number);
  }

  /** Runs a Redis operation, or answers `unreachable` when Redis is down or the command fails. */
  private async shared<T>(op: () => Promise<T>): Promise<T | typeof unreachable> {
    if (!this.store.connected) return unreachable;
    try {
      return await op();
    } catch (err) {
      this.store.failed(err);
      return unreachable;
    }
  }

  /** Redis is unreachable: this daemon's memory (`local`), a refusal (`closed`, required state), or a miss (`closed`, cache). */
  private degraded<T>(local: () => Promise<T>, miss: T): Promise<T> {
    if (this.keepsLocal) return local();
    if (this.policy === 'required') return Promise.reject(new StateUnavailableError());
    return Promise.resolve(miss);
  }
}

const unreachable = Symbol('unreachable');

/** Never log a Redis password. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
