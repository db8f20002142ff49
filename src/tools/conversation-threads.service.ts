import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import type { LlmMessage } from '../providers/llm-provider';
import { StateUnavailableError } from '../state/state.errors';
import { StateMap, StateMapStats, StateStore } from '../state/state-store';
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
 * Conversation threads behind `continuation_id`, each owned by the session
 * that created it, in the state store (this daemon's memory, or Redis shared
 * by every daemon): 3 h TTL, bounded by count and by bytes
 * (EXAI_THREADS_MAX_BYTES, least recently used out first). A thread is
 * trimmed from its oldest turns to fit a quarter of the budget, so one huge
 * conversation cannot evict every other.
 */
@Injectable()
export class ConversationThreadsService {
  private readonly threads: StateMap;
  private readonly maxThreadBytes: number;

  constructor(
    @Inject(toolsConfig.KEY) config: ConfigType<typeof toolsConfig>,
    private readonly store: StateStore,
  ) {
    this.maxThreadBytes = Math.floor(config.threadsMaxBytes / 4);
    this.threads = store.map(
      'threads',
      { maxEntries: MAX_THREADS, maxBytes: config.threadsMaxBytes, ttlMs: THREAD_TTL_MS },
      'required',
    );
  }

  /** @throws StateUnavailableError when no thread could be read or recorded now (Redis down, `closed`). */
  assertWritable(): void {
    if (!this.store.status().available) throw new StateUnavailableError();
  }

  /**
   * The thread's messages; none when no id is given (a new thread).
   * @throws UnknownContinuationError when the id is not a live thread of this session.
   */
  async history(continuationId: string | undefined, sessionId: string): Promise<LlmMessage[]> {
    if (!continuationId) return [];
    const thread = await this.read(continuationId);
    // Another session's thread gets the same answer as an id that never
    // existed, so the error does not tell a guesser that the id is live.
    if (!thread || thread.owner !== sessionId) throw new UnknownContinuationError(continuationId);
    return thread.messages;
  }

  /**
   * Like history(), but an id with no thread yet reads as empty: for an id the
   * caller's own code minted (a workflow thread before its first model turn),
   * or a thread evicted after prepare() checked it.
   * @throws UnknownContinuationError when the id is another session's thread.
   */
  async historyOrNew(continuationId: string | undefined, sessionId: string): Promise<LlmMessage[]> {
    if (!continuationId) return [];
    const thread = await this.read(continuationId);
    if (thread && thread.owner !== sessionId) throw new UnknownContinuationError(continuationId);
    return thread?.messages ?? [];
  }

  /**
   * Appends a turn and returns the id to continue with (a new one when none
   * was given). One read-and-write step, so two daemons appending to one
   * thread at once both keep their turn.
   * @throws UnknownContinuationError when the id belongs to another session.
   */
  async append(continuationId: string | undefined, sessionId: string, ...messages: LlmMessage[]): Promise<string> {
    const id = continuationId || randomUUID();
    await this.threads.update(id, (raw) => {
      const existing = raw === undefined ? undefined : (JSON.parse(raw) as Thread);
      if (existing && existing.owner !== sessionId) throw new UnknownContinuationError(id);
      // A thread evicted while its turn ran is recreated for the same owner:
      // only that session ever held the id.
      const turns = [...(existing?.messages ?? []), ...messages].slice(-MAX_MESSAGES_PER_THREAD);
      let bytes = turns.reduce((n, m) => n + messageBytes(m), 0);
      while (turns.length > 0 && bytes > this.maxThreadBytes) bytes -= messageBytes(turns.shift()!);
      return turns.length > 0 ? JSON.stringify({ owner: sessionId, messages: turns } satisfies Thread) : undefined;
    });
    return id;
  }

  /** Threads held and their bytes, as the store counts them. */
  stats(): Promise<StateMapStats> {
    return this.threads.stats();
  }

  private async read(id: string): Promise<Thread | undefined> {
    const raw = await this.threads.get(id);
    return raw === undefined ? undefined : (JSON.parse(raw) as Thread);
  }
}
