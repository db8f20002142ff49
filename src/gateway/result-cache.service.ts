import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { StateMap, StateMapStats, StateStore } from '../state/state-store';
import { gatewayConfig } from './gateway.config';
import type { EncodedFrame } from './call-frames';
import type { CallToolResultFrame, TextOutput } from './dto/server-frames';

/** A finished call kept for replay, with what identifies the call it answered. */
export interface StoredReplay {
  /** Tool and arguments of the call (see CallPlanner): a replay must match them. */
  fingerprint: string;
  frame: CallToolResultFrame;
}

/**
 * Replay of finished calls by (session, request_id), and the result cache of
 * identical calls by call key (scoped by the caller, see CallPlanner), in
 * the state store: with Redis, a retry or an identical call on another daemon
 * is answered from what this one stored. Only successes are stored: a failed
 * call that is retried with the same id runs again. Both are caches: when the
 * store cannot be reached they miss (the call runs) and store nothing.
 */
@Injectable()
export class ResultCacheService {
  private readonly logger = new Logger(ResultCacheService.name);
  private readonly replays: StateMap;
  private readonly results: StateMap;
  private readonly enabled: boolean;

  constructor(@Inject(gatewayConfig.KEY) config: ConfigType<typeof gatewayConfig>, store: StateStore) {
    // EXAI_WS_RESULT_TTL=0 turns both off.
    this.enabled = config.resultTtlMs > 0;
    // Bounded by bytes too: a few huge results must not hold the entry count's worth of memory.
    const bounds = { maxBytes: config.resultCacheMaxBytes, ttlMs: config.resultTtlMs };
    this.replays = store.map('replays', { ...bounds, maxEntries: config.resultCacheMaxEntries * 4 }, 'cache');
    this.results = store.map('results', { ...bounds, maxEntries: config.resultCacheMaxEntries }, 'cache');
  }

  /** Entries and bytes held by the result cache and the replay cache. */
  async stats(): Promise<{ results: StateMapStats; replays: StateMapStats }> {
    return { results: await this.results.stats(), replays: await this.replays.stats() };
  }

  async replay(sessionId: string, requestId: string): Promise<StoredReplay | undefined> {
    if (!this.enabled) return undefined;
    const raw = await this.replays.get(this.replayKey(sessionId, requestId));
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredReplay);
  }

  /**
   * Resolves once stored, so a client that has the result can replay it on
   * any daemon. Never rejects. The frame's bytes are the ones its caller
   * gets: the entry is a StoredReplay's JSON, built around them.
   */
  storeReplay(sessionId: string, fingerprint: string, requestId: string, frame: EncodedFrame): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const entry = `{"fingerprint":${JSON.stringify(fingerprint)},"frame":${frame.json}}`;
    return this.quietly(this.replays.set(this.replayKey(sessionId, requestId), entry));
  }

  async cachedOutputs(callKey: string): Promise<TextOutput[] | undefined> {
    if (!this.enabled) return undefined;
    const raw = await this.results.get(callKey);
    return raw === undefined ? undefined : (JSON.parse(raw) as TextOutput[]);
  }

  /** Never rejects: a result that could not be cached is only a later miss. */
  storeOutputs(callKey: string, outputs: TextOutput[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return this.quietly(this.results.set(callKey, JSON.stringify(outputs)));
  }

  private quietly(write: Promise<unknown>): Promise<void> {
    return write.then(
      () => undefined,
      (err: unknown) => this.logger.warn(`Result not cached: ${(err as Error)?.message ?? String(err)}`),
    );
  }

  private replayKey(sessionId: string, requestId: string): string {
    // JSON keeps the pair unambiguous whatever characters the ids contain.
    return JSON.stringify([sessionId, requestId]);
  }
}
