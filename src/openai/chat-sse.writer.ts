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
 *
 * Every chunk of a stream shares its id, model and time, so each event is
 * that fixed JSON prefix, serialized once, and its delta: the bytes are
 * exactly chunkBody()'s. The events of one upstream read leave in one
 * res.write() (and one syscall), queued as text until the microtasks of the
 * read have run.
 */
export class ChatSseWriter {
  private started = false;
  /** Events not yet handed to the response; a flush is queued whenever this is non-empty. */
  private pending = '';
  private readonly head: string;

  constructor(
    private readonly res: ServerResponse,
    private readonly id: string,
    private readonly created: number,
    private readonly model: string,
    /** Called once the unsent output passes MAX_UNSENT_STREAM_BYTES. */
    private readonly onOverflow: () => void,
  ) {
    const prefix = JSON.stringify(chunkBody(id, created, model, {}));
    // Everything before the delta object: `{"id":…,"choices":[{"index":0,"delta":`.
    this.head = `data: ${prefix.slice(0, prefix.lastIndexOf('{}'))}`;
  }

  get hasStarted(): boolean {
    return this.started;
  }

  delta(delta: LlmDelta): void {
    this.start();
    this.queue(this.event(JSON.stringify(deltaBody(delta)), null));
  }

  finish(result: LlmResult, includeUsage: boolean): void {
    this.start();
    this.queue(this.event('{}', result.finishReason || 'stop'));
    if (includeUsage) {
      const usage = {
        ...chunkBody(this.id, this.created, this.model, {}),
        choices: [],
        usage: openAiUsage(result.usage),
      };
      this.queue(`data: ${JSON.stringify(usage)}\n\n`);
    }
    this.end();
  }

  /** After the stream started: an error event OpenAI's SDKs raise as an APIError, then the end. */
  fail(error: OpenAiApiError): void {
    this.queue(`data: ${JSON.stringify(error.body())}\n\n`);
    this.end();
  }

  /** One chunk event: the same text as `data: ${JSON.stringify(chunkBody(…, delta, finishReason))}\n\n`. */
  private event(deltaJson: string, finishReason: string | null): string {
    const finish = finishReason === null ? 'null' : JSON.stringify(finishReason);
    return `${this.head}${deltaJson},"finish_reason":${finish},"logprobs":null}]}\n\n`;
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
    this.queue(this.event('{"role":"assistant","content":""}', null));
  }

  private queue(event: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.pending === '') process.nextTick(() => this.flush());
    this.pending += event;
    if (this.res.writableLength + this.pending.length > MAX_UNSENT_STREAM_BYTES) this.onOverflow();
  }

  private flush(): void {
    const text = this.pending;
    this.pending = '';
    if (text === '' || this.res.writableEnded || this.res.destroyed) return;
    this.res.write(text);
    if (this.res.writableLength > MAX_UNSENT_STREAM_BYTES) this.onOverflow();
  }

  private end(): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    const text = `${this.pending}data: [DONE]\n\n`;
    this.pending = '';
    this.res.end(text);
  }
}
