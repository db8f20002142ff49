import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { TtlLru } from '../common/ttl-lru';
import type { LlmMessage } from '../providers/llm-provider';

const THREAD_TTL_MS = 3 * 60 * 60 * 1000;
const MAX_THREADS = 1000;
/** Older turns are dropped past this many messages so a thread cannot grow without bound. */
const MAX_MESSAGES_PER_THREAD = 40;

/** In-memory conversation threads behind `continuation_id`: bounded, 3 h TTL. */
@Injectable()
export class ConversationThreadsService {
  private readonly threads = new TtlLru<string, LlmMessage[]>(MAX_THREADS, THREAD_TTL_MS);

  /** The thread's messages, or none for a new or expired id. */
  history(continuationId: string | undefined): LlmMessage[] {
    return continuationId ? [...(this.threads.get(continuationId) ?? [])] : [];
  }

  /** Appends a turn and returns the id to continue with (a new one when none was given). */
  append(continuationId: string | undefined, ...messages: LlmMessage[]): string {
    const id = continuationId ?? randomUUID();
    const thread = [...this.history(id), ...messages].slice(-MAX_MESSAGES_PER_THREAD);
    this.threads.set(id, thread);
    return id;
  }

  get size(): number {
    return this.threads.size;
  }
}
