import type { ServerResponse } from 'node:http';
import type { LlmDelta, LlmResult } from '../providers/llm-provider';
import { chunkBody, deltaBody, openAiUsage } from './chat-completion.format';
import type { OpenAiApiError } from './openai.errors';

/**
 * Output a slow reader has not taken yet. Past it the call is ended: a client
 * that stops reading must not make the daemon hold the whole answer.
 */
export const MAX_UNSENT_STREAM_BYTES = 8 * 1024 * 1024;

/**
 * Writes one streamed chat completion as OpenAI's server-sent events. The
 * status line goes out with the first delta, so a call refused or failed
 * before any output still gets its proper status (429, 502, 503, 504);
 * after that, a failure is an `error` event.
 */
export class ChatSseWriter {
  private started = false;
  private corked = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly id: string,
    private readonly created: number,
    private readonly model: string,
    /** Called once the unsent output passes MAX_UNSENT_STREAM_BYTES. */
    private readonly onOverflow: () => void,
  ) {}

  get hasStarted(): boolean {
    return this.started;
  }

  delta(delta: LlmDelta): void {
    this.start();
    this.send(chunkBody(this.id, this.created, this.model, deltaBody(delta)));
  }

  finish(result: LlmResult, includeUsage: boolean): void {
    this.start();
    this.send(chunkBody(this.id, this.created, this.model, {}, result.finishReason || 'stop'));
    if (includeUsage) {
      this.send({ ...chunkBody(this.id, this.created, this.model, {}), choices: [], usage: openAiUsage(result.usage) });
    }
    this.end();
  }

  /** After the stream started: an error event OpenAI's SDKs raise as an APIError, then the end. */
  fail(error: OpenAiApiError): void {
    this.send(error.body());
    this.end();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise hold the chunks back.
      'x-accel-buffering': 'no',
    });
    this.send(chunkBody(this.id, this.created, this.model, { role: 'assistant', content: '' }));
  }

  private send(body: unknown): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    // Deltas that arrive in one upstream read leave in one write, not one
    // syscall (and TCP segment) each.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    this.res.write(`data: ${JSON.stringify(body)}\n\n`);
    if (this.res.writableLength > MAX_UNSENT_STREAM_BYTES) this.onOverflow();
  }

  private end(): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.end('data: [DONE]\n\n');
  }
}
