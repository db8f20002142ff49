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
    // Bounded by bytes too: a few huge results must not hold the entry count's worth of memory.
    const maxBytes = config.resultCacheMaxBytes;
    this.replays = new TtlLru(config.resultCacheMaxEntries * 4, config.resultTtlMs, Date.now, {
      maxBytes,
      sizeOf: (key, frame) => key.length + textBytes(frame.outputs) + (frame.text?.length ?? 0),
    });
    this.results = new TtlLru(config.resultCacheMaxEntries, config.resultTtlMs, Date.now, {
      maxBytes,
      sizeOf: (key, outputs) => key.length + textBytes(outputs),
    });
  }

  /** Bytes held by the result cache and the replay cache (estimated from their text). */
  get bytes(): { results: number; replays: number } {
    return { results: this.results.bytes, replays: this.replays.bytes };
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

function textBytes(outputs: TextOutput[]): number {
  return outputs.reduce((n, o) => n + o.text.length, 0);
}
