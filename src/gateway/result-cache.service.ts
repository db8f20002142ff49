import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TtlLru } from '../common/ttl-lru';
import { gatewayConfig } from './gateway.config';
import type { CallToolResultFrame, TextOutput } from './dto/server-frames';

/**
 * Replay of finished calls by (session, request_id), and the result cache of
 * identical calls by call key. Only successes are stored: a failed call that
 * is retried with the same id runs again.
 */
@Injectable()
export class ResultCacheService {
  private readonly replays: TtlLru<string, CallToolResultFrame>;
  private readonly results: TtlLru<string, TextOutput[]>;

  constructor(@Inject(gatewayConfig.KEY) config: ConfigType<typeof gatewayConfig>) {
    this.replays = new TtlLru(config.resultCacheMaxEntries * 4, config.resultTtlMs);
    this.results = new TtlLru(config.resultCacheMaxEntries, config.resultTtlMs);
  }

  replay(sessionId: string, requestId: string): CallToolResultFrame | undefined {
    return this.replays.get(this.replayKey(sessionId, requestId));
  }

  storeReplay(sessionId: string, frame: CallToolResultFrame): void {
    this.replays.set(this.replayKey(sessionId, frame.request_id), frame);
  }

  cachedOutputs(callKey: string): TextOutput[] | undefined {
    return this.results.get(callKey);
  }

  storeOutputs(callKey: string, outputs: TextOutput[]): void {
    this.results.set(callKey, outputs);
  }

  private replayKey(sessionId: string, requestId: string): string {
    // JSON keeps the pair unambiguous whatever characters the ids contain.
    return JSON.stringify([sessionId, requestId]);
  }
}
