import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TtlLru } from '../common/ttl-lru';
import { gatewayConfig } from './gateway.config';
import type { CallToolResultFrame, TextOutput } from './dto/server-frames';

/** A finished call kept for replay, with what identifies the call it answered. */
export interface StoredReplay {
  /** Tool and arguments of the call (see ToolCallsService): a replay must match them. */
  fingerprint: string;
  frame: CallToolResultFrame;
}

/**
 * Replay of finished calls by (session, request_id), and the result cache of
 * identical calls by call key (scoped by the caller, see ToolCallsService).
 * Only successes are stored: a failed call that is retried with the same id
 * runs again.
 */
@Injectable()
export class ResultCacheService {
  private readonly replays: TtlLru<string, StoredReplay>;
  private readonly results: TtlLru<string, TextOutput[]>;

  constructor(@Inject(gatewayConfig.KEY) config: ConfigType<typeof gatewayConfig>) {
    // Bounded by bytes too: a few huge results must not hold the entry count's worth of memory.
    const maxBytes = config.resultCacheMaxBytes;
    this.replays = new TtlLru(config.resultCacheMaxEntries * 4, config.resultTtlMs, Date.now, {
      maxBytes,
      sizeOf: (key, { fingerprint, frame }) =>
        key.length + fingerprint.length + textBytes(frame.outputs) + (frame.text?.length ?? 0),
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

  replay(sessionId: string, requestId: string): StoredReplay | undefined {
    return this.replays.get(this.replayKey(sessionId, requestId));
  }

  storeReplay(sessionId: string, fingerprint: string, frame: CallToolResultFrame): void {
    this.replays.set(this.replayKey(sessionId, frame.request_id), { fingerprint, frame });
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
