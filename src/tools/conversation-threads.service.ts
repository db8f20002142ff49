import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { TtlLru } from '../common/ttl-lru';
import type { LlmMessage } from '../providers/llm-provider';
import { toolsConfig } from './tools.config';

const THREAD_TTL_MS = 3 * 60 * 60 * 1000;
const MAX_THREADS = 1000;
/** Older turns are dropped past this many messages so a thread cannot grow without bound. */
const MAX_MESSAGES_PER_THREAD = 40;

function messageBytes(m: LlmMessage): number {
  return m.content.length + (m.reasoning_content?.length ?? 0);
}

/**
 * In-memory conversation threads behind `continuation_id`: 3 h TTL, bounded
 * by count and by bytes (EXAI_THREADS_MAX_BYTES, least recently used out
 * first). A thread is trimmed from its oldest turns to fit a quarter of the
 * budget, so one huge conversation cannot evict every other.
 */
@Injectable()
export class ConversationThreadsService {
  private readonly threads: TtlLru<string, LlmMessage[]>;
  private readonly maxThreadBytes: number;

  constructor(@Inject(toolsConfig.KEY) config: ConfigType<typeof toolsConfig>) {
    this.maxThreadBytes = Math.floor(config.threadsMaxBytes / 4);
    this.threads = new TtlLru<string, LlmMessage[]>(MAX_THREADS, THREAD_TTL_MS, Date.now, {
      maxBytes: config.threadsMaxBytes,
      sizeOf: (id, thread) => id.length + thread.reduce((n, m) => n + messageBytes(m), 0),
    });
  }

  /** The thread's messages, or none for a new or expired id. */
  history(continuationId: string | undefined): LlmMessage[] {
    return continuationId ? [...(this.threads.get(continuationId) ?? [])] : [];
  }

  /** Appends a turn and returns the id to continue with (a new one when none was given). */
  append(continuationId: string | undefined, ...messages: LlmMessage[]): string {
    const id = continuationId ?? randomUUID();
    const thread = [...this.history(id), ...messages].slice(-MAX_MESSAGES_PER_THREAD);
    let bytes = thread.reduce((n, m) => n + messageBytes(m), 0);
    while (thread.length > 0 && bytes > this.maxThreadBytes) bytes -= messageBytes(thread.shift()!);
    if (thread.length > 0) this.threads.set(id, thread);
    else this.threads.delete(id);
    return id;
  }

  get size(): number {
    return this.threads.size;
  }

  /** Bytes held by all threads (estimated from their text). */
  get bytes(): number {
    return this.threads.bytes;
  }
}
