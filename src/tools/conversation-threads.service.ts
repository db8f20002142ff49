import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { TtlLru } from '../common/ttl-lru';
import type { LlmMessage } from '../providers/llm-provider';
import { toolsConfig } from './tools.config';
import { UnknownContinuationError } from './tools.errors';

const THREAD_TTL_MS = 3 * 60 * 60 * 1000;
const MAX_THREADS = 1000;
/** Older turns are dropped past this many messages so a thread cannot grow without bound. */
const MAX_MESSAGES_PER_THREAD = 40;

function messageBytes(m: LlmMessage): number {
  return m.content.length + (m.reasoning_content?.length ?? 0);
}

interface Thread {
  /** The session that created the thread; no other session may read or extend it. */
  readonly owner: string;
  readonly messages: LlmMessage[];
}

/**
 * In-memory conversation threads behind `continuation_id`, each owned by the
 * session that created it: 3 h TTL, bounded by count and by bytes
 * (EXAI_THREADS_MAX_BYTES, least recently used out first). A thread is
 * trimmed from its oldest turns to fit a quarter of the budget, so one huge
 * conversation cannot evict every other.
 */
@Injectable()
export class ConversationThreadsService {
  private readonly threads: TtlLru<string, Thread>;
  private readonly maxThreadBytes: number;

  constructor(@Inject(toolsConfig.KEY) config: ConfigType<typeof toolsConfig>) {
    this.maxThreadBytes = Math.floor(config.threadsMaxBytes / 4);
    this.threads = new TtlLru<string, Thread>(MAX_THREADS, THREAD_TTL_MS, Date.now, {
      maxBytes: config.threadsMaxBytes,
      sizeOf: (id, thread) =>
        id.length + thread.owner.length + thread.messages.reduce((n, m) => n + messageBytes(m), 0),
    });
  }

  /**
   * The thread's messages; none when no id is given (a new thread).
   * @throws UnknownContinuationError when the id is not a live thread of this session.
   */
  history(continuationId: string | undefined, sessionId: string): LlmMessage[] {
    if (!continuationId) return [];
    const thread = this.threads.get(continuationId);
    // Another session's thread gets the same answer as an id that never
    // existed, so the error does not tell a guesser that the id is live.
    if (!thread || thread.owner !== sessionId) throw new UnknownContinuationError(continuationId);
    return [...thread.messages];
  }

  /**
   * Like history(), but an id with no thread yet reads as empty: for an id the
   * caller's own code minted (a workflow thread before its first model turn),
   * or a thread evicted after prepare() checked it.
   * @throws UnknownContinuationError when the id is another session's thread.
   */
  historyOrNew(continuationId: string | undefined, sessionId: string): LlmMessage[] {
    if (!continuationId) return [];
    const thread = this.threads.get(continuationId);
    if (thread && thread.owner !== sessionId) throw new UnknownContinuationError(continuationId);
    return [...(thread?.messages ?? [])];
  }

  /**
   * Appends a turn and returns the id to continue with (a new one when none was given).
   * @throws UnknownContinuationError when the id belongs to another session.
   */
  append(continuationId: string | undefined, sessionId: string, ...messages: LlmMessage[]): string {
    const id = continuationId || randomUUID();
    const existing = this.threads.get(id);
    if (existing && existing.owner !== sessionId) throw new UnknownContinuationError(id);
    // A thread evicted while its turn ran is recreated for the same owner:
    // only that session ever held the id.
    const turns = [...(existing?.messages ?? []), ...messages].slice(-MAX_MESSAGES_PER_THREAD);
    let bytes = turns.reduce((n, m) => n + messageBytes(m), 0);
    while (turns.length > 0 && bytes > this.maxThreadBytes) bytes -= messageBytes(turns.shift()!);
    if (turns.length > 0) this.threads.set(id, { owner: sessionId, messages: turns });
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
