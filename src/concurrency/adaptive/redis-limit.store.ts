import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { failFastRedisOptions } from '../../common/redis-options';
import type { AdaptiveBounds, AdaptiveTuning, LimitPhase, LimitState, LimitStep } from './adaptive-limit';
import { LimitStore, MemoryLimitStore } from './limit-store';

const PREFIX = '{exai}';

/**
 * `applyStep` (adaptive-limit.ts) in Lua, so that reading, changing and
 * writing the shared limit is one atomic step however many daemons report at
 * once. KEYS: the limit's hash, the provider's lease set (same `{exai}` hash
 * tag, so one Redis Cluster slot). ARGV: op (load|cut|grow|brake|hold), now,
 * min, max, backoff, arg (cut, brake: the attempt's start; grow: this
 * daemon's in-flight).
 * Growth counts every daemon's live leases in the lease set, not just the
 * caller's. Returns value, cutAt and phase as strings (Lua numbers would be
 * truncated to integers on the way out).
 */
export const LIMIT_SCRIPT = `
local op = ARGV[1]
local now = tonumber(ARGV[2])
local min = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local backoff = tonumber(ARGV[5])
local arg = tonumber(ARGV[6])
local function clamp(v)
  if v < min then return min end
  if v > max then return max end
  return v
end
local raw = redis.call('HMGET', KEYS[1], 'value', 'cutAt', 'brakeAt', 'phase')
local value = tonumber(raw[1])
local cutAt = tonumber(raw[2]) or 0
local brakeAt = tonumber(raw[3]) or 0
local phase = raw[4] or 'slow_start'
if value == nil then value = min end
value = clamp(value)
if op == 'cut' then
  if arg > cutAt then
    value = clamp(value * backoff)
    cutAt = now
    phase = 'avoidance'
  end
elseif op == 'grow' then
  local inflight = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
  if arg > inflight then inflight = arg end
  if inflight * 2 >= math.floor(value) then
    if phase == 'slow_start' then value = clamp(value + 1) else value = clamp(value + 1 / value) end
  end
elseif op == 'brake' then
  if arg > cutAt and arg > brakeAt then
    value = clamp(value - 1)
    brakeAt = now
  end
  phase = 'avoidance'
elseif op == 'hold' then
  phase = 'avoidance'
end
redis.call('HSET', KEYS[1], 'value', tostring(value), 'cutAt', tostring(cutAt), 'brakeAt', tostring(brakeAt), 'phase', phase)
return {tostring(value), tostring(cutAt), tostring(brakeAt), phase}
`;

/**
 * One limit per provider shared by every daemon on the Redis. While Redis is
 * unreachable each daemon keeps adapting a local copy (the last shared value)
 * rather than freezing, and goes back to the shared one when Redis answers.
 */
export class RedisLimitStore extends LimitStore {
  private readonly logger = new Logger(RedisLimitStore.name);
  private readonly redis: Redis;
  private readonly local: MemoryLimitStore;
  private reachable = true;

  constructor(
    redisUrl: string,
    private readonly tuning: AdaptiveTuning,
    private readonly clock: () => number,
  ) {
    super();
    this.local = new MemoryLimitStore(tuning, clock);
    this.redis = new Redis(redisUrl, failFastRedisOptions());
    this.redis.on('error', () => undefined);
  }

  async connect(): Promise<void> {
    await this.redis.connect().catch(() => undefined);
  }

  override get shared(): boolean {
    return true;
  }

  override async close(): Promise<void> {
    this.redis.disconnect();
    return Promise.resolve();
  }

  load(provider: string, bounds: AdaptiveBounds): Promise<LimitState> {
    return this.run(provider, 'load', 0, bounds);
  }

  apply(provider: string, step: LimitStep, bounds: AdaptiveBounds): Promise<LimitState> {
    const arg =
      step.kind === 'cut' || step.kind === 'brake' ? step.startedAt : step.kind === 'grow' ? step.inflight : 0;
    return this.run(provider, step.kind, arg, bounds, step);
  }

  private async run(
    provider: string,
    op: string,
    arg: number,
    bounds: AdaptiveBounds,
    step?: LimitStep,
  ): Promise<LimitState> {
    const now = this.clock();
    try {
      const [value, cutAt, brakeAt, phase] = (await this.redis.eval(
        LIMIT_SCRIPT,
        2,
        `${PREFIX}:adaptive:provider:${provider}`,
        `${PREFIX}:limit:provider:${provider}`,
        op,
        now,
        bounds.min,
        bounds.max,
        this.tuning.backoff,
        arg,
      )) as [string, string, string, string];
      const state: LimitState = {
        value: Number(value),
        cutAt: Number(cutAt),
        brakeAt: Number(brakeAt),
        phase: phase as LimitPhase,
      };
      this.local.seed(provider, state);
      if (!this.reachable) this.logger.warn('Adaptive limits shared through Redis again');
      this.reachable = true;
      return state;
    } catch (err) {
      if (this.reachable) {
        this.logger.error(
          `Redis unreachable for adaptive limits (${(err as Error).message}); adapting this daemon's copy until it returns`,
        );
      }
      this.reachable = false;
      return step ? this.local.apply(provider, step, bounds) : this.local.load(provider, bounds);
    }
  }
}
