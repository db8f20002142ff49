import { Body, Controller, Get, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CallCancelledError } from '../common/call.errors';
import { SESSION_ID_PATTERN } from '../common/session-id';
import { completionBody } from './chat-completion.format';
import { ChatCompletionsService } from './chat-completions.service';
import { parseChatRequest } from './chat-request.parser';
import { ChatSseWriter } from './chat-sse.writer';
import { SESSION_HEADER } from './openai.constants';
import { OpenAiApiError, toOpenAiError } from './openai.errors';
import { OpenAiAuthGuard, bearerToken } from './openai-auth.guard';
import { OpenAiModelsService } from './openai-models.service';
import type { OpenAiModel } from './openai-models.service';

/**
 * OpenAI's chat completions and models endpoints on the daemon's HTTP port,
 * so any OpenAI client works with `baseURL` set to `http://host:port/v1`.
 */
@Controller('v1')
@UseGuards(OpenAiAuthGuard)
export class OpenAiController {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly models: OpenAiModelsService,
  ) {}

  @Get('models')
  list(): Record<string, unknown> {
    return { object: 'list', data: this.models.list() };
  }

  @Get('models/:model')
  retrieve(@Param('model') model: string): OpenAiModel {
    return this.models.get(model);
  }

  @Post('chat/completions')
  @HttpCode(200)
  async completions(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Body() body: unknown): Promise<void> {
    const request = parseChatRequest(body);
    const plan = this.chat.plan(request, { sessionId: sessionOf(req) });
    const created = Math.floor(Date.now() / 1000);
    // `close` before the response ended is the client going away: the
    // upstream request is aborted and the lease released.
    res.on('close', () => {
      if (!res.writableFinished) this.chat.cancel(plan, new CallCancelledError('Client disconnected'));
    });

    if (!request.stream) {
      const result = await this.chat.run(plan);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(completionBody(plan.id, created, plan.route.model, result)));
      return;
    }
    const writer = new ChatSseWriter(res, plan.id, created, plan.route.model, () =>
      this.chat.cancel(plan, new CallCancelledError('Client is not reading the stream')),
    );
    try {
      const result = await this.chat.run(plan, (delta) => writer.delta(delta));
      writer.finish(result, request.includeUsage);
    } catch (err) {
      if (!writer.hasStarted) throw err;
      const error = toOpenAiError(err);
      if (error.status !== 499) writer.fail(error);
      else res.destroy();
    }
  }
}

/** `X-EXAI-Session` when given, else one session per token (a digest, never the token). */
function sessionOf(req: IncomingMessage): string {
  const header = req.headers[SESSION_HEADER];
  if (header !== undefined) {
    const value = Array.isArray(header) ? header[0] : header;
    if (!SESSION_ID_PATTERN.test(value)) {
      throw new OpenAiApiError(
        400,
        `${SESSION_HEADER} must be 1-128 characters of letters, digits, '.', '_', ':' or '-'.`,
        'invalid_request_error',
        'invalid_session',
      );
    }
    return value;
  }
  const token = bearerToken(req) ?? '';
  return `openai:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}
