import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { InvalidArgumentsError } from '../tools.errors';
import { workflowConfig } from './workflow.config';
import type { ToolRun } from './workflow.types';

/** One workflow thread: the runs of every tool continued under one continuation_id. */
export interface WorkflowThread {
  readonly id: string;
  /** The session that created it; no other session can see or continue it. */
  readonly sessionId: string;
  runs: Record<string, ToolRun>;
  /** Files whose contents were already sent to a model in this thread. */
  embeddedFiles: string[];
}

interface Entry {
  thread: WorkflowThread;
  bytes: number;
  expiresAt: number;
}

/**
 * Workflow state per thread, keyed by continuation_id and owned by the session
 * that created it. Bounded by threads, by bytes per thread and by bytes in
 * total (least recently used threads go first), and expiring like chat threads.
 */
@Injectable()
export class WorkflowStateService {
  private readonly entries = new Map<string, Entry>();
  private totalBytes = 0;

  constructor(@Inject(workflowConfig.KEY) private readonly config: ConfigType<typeof workflowConfig>) {}

  /** A new, not yet stored thread for `sessionId`. */
  create(sessionId: string): WorkflowThread {
    return { id: randomUUID(), sessionId, runs: {}, embeddedFiles: [] };
  }

  /**
   * A copy of the thread, to change and `save`. Another session's id is
   * answered exactly like an unknown one, so ids cannot be probed.
   * @throws InvalidArgumentsError "unknown continuation_id"
   */
  require(id: string, sessionId: string): WorkflowThread {
    const entry = this.entries.get(id);
    if (entry && entry.expiresAt <= this.now()) this.drop(id);
    const live = this.entries.get(id);
    if (!live || live.thread.sessionId !== sessionId) {
      throw new InvalidArgumentsError(
        `unknown continuation_id "${id}": it expired, was never issued to this session, or was evicted; start again at step 1 without one`,
        { continuation_id: id },
      );
    }
    // Re-insert: Map order is the recency order used for eviction.
    this.entries.delete(id);
    this.entries.set(id, live);
    return structuredClone(live.thread);
  }

  /** @throws InvalidArgumentsError when the thread alone is over EXAI_WORKFLOW_THREAD_MAX_BYTES. */
  save(thread: WorkflowThread): void {
    const bytes = Buffer.byteLength(JSON.stringify(thread));
    if (bytes > this.config.threadMaxBytes) {
      throw new InvalidArgumentsError(
        `this workflow thread would hold ${bytes} bytes, over EXAI_WORKFLOW_THREAD_MAX_BYTES=${this.config.threadMaxBytes}; backtrack, shorten the findings, or start a new thread`,
        { continuation_id: thread.id, bytes, max: this.config.threadMaxBytes },
      );
    }
    this.drop(thread.id);
    this.entries.set(thread.id, { thread: structuredClone(thread), bytes, expiresAt: this.now() + this.config.ttlMs });
    this.totalBytes += bytes;
    for (const [id] of this.entries) {
      if (this.entries.size <= this.config.maxThreads && this.totalBytes <= this.config.maxBytes) break;
      if (id !== thread.id) this.drop(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The clock; a test subclass may move it. */
  protected now(): number {
    return Date.now();
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.totalBytes -= entry.bytes;
  }
}
