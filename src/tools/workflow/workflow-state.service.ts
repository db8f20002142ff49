import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { StateMap, StateMapStats, StateStore } from '../../state/state-store';
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

/**
 * Workflow state per thread, keyed by continuation_id and owned by the session
 * that created it, in the state store (this daemon's memory, or Redis shared
 * by every daemon, so consecutive steps may land on different daemons).
 * Bounded by threads, by bytes per thread and by bytes in total (least
 * recently used threads go first), and expiring like chat threads.
 */
@Injectable()
export class WorkflowStateService {
  private readonly threads: StateMap;

  constructor(
    @Inject(workflowConfig.KEY) private readonly config: ConfigType<typeof workflowConfig>,
    store: StateStore,
  ) {
    this.threads = store.map(
      'workflow',
      { maxEntries: config.maxThreads, maxBytes: config.maxBytes, ttlMs: config.ttlMs },
      'required',
    );
  }

  /** A new, not yet stored thread for `sessionId`. */
  create(sessionId: string): WorkflowThread {
    return { id: randomUUID(), sessionId, runs: {}, embeddedFiles: [] };
  }

  /**
   * The thread, to change and `save` (a copy: changing it changes nothing
   * stored). Another session's id is answered exactly like an unknown one,
   * so ids cannot be probed.
   * @throws InvalidArgumentsError "unknown continuation_id"
   */
  async require(id: string, sessionId: string): Promise<WorkflowThread> {
    const raw = await this.threads.get(id);
    const thread = raw === undefined ? undefined : (JSON.parse(raw) as WorkflowThread);
    if (!thread || thread.sessionId !== sessionId) {
      throw new InvalidArgumentsError(
        `unknown continuation_id "${id}": it expired, was never issued to this session, or was evicted; start again at step 1 without one`,
        { continuation_id: id },
      );
    }
    return thread;
  }

  /** @throws InvalidArgumentsError when the thread alone is over EXAI_WORKFLOW_THREAD_MAX_BYTES. */
  async save(thread: WorkflowThread): Promise<void> {
    const json = JSON.stringify(thread);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.config.threadMaxBytes) {
      throw new InvalidArgumentsError(
        `this workflow thread would hold ${bytes} bytes, over EXAI_WORKFLOW_THREAD_MAX_BYTES=${this.config.threadMaxBytes}; backtrack, shorten the findings, or start a new thread`,
        { continuation_id: thread.id, bytes, max: this.config.threadMaxBytes },
      );
    }
    if (!(await this.threads.set(thread.id, json))) {
      throw new InvalidArgumentsError(
        `this workflow thread would hold ${bytes} bytes, more than all workflow threads may hold together (EXAI_WORKFLOW_MAX_BYTES=${this.config.maxBytes}); backtrack, shorten the findings, or start a new thread`,
        { continuation_id: thread.id, bytes, max: this.config.maxBytes },
      );
    }
  }

  /** Threads held and their bytes, as the store counts them. */
  stats(): Promise<StateMapStats> {
    return this.threads.stats();
  }
}
