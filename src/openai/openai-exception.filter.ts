import { ArgumentsHost, Catch, HttpException, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HostNotAllowedError } from '../http/http.errors';
import { OpenAiApiError, toOpenAiError } from './openai.errors';

/**
 * The single place where the API's errors become responses, in OpenAI's
 * error shape. Global (so that body-parser failures on `/v1`, which happen
 * before any controller, are shaped too); every other path keeps Nest's
 * default handling.
 */
@Catch()
export class OpenAiExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger(OpenAiExceptionFilter.name);

  override catch(exception: unknown, host: ArgumentsHost): void {
    // The WebSocket gateway has its own filter; only HTTP requests under /v1 are ours.
    if (host.getType() !== 'http') return;
    const req = host.switchToHttp().getRequest<IncomingMessage>();
    // Express rewrites `url` inside middleware mounted on a path; `originalUrl` is what the client asked.
    const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
    if (!/^\/v1(\/|$|\?)/.test(path)) return super.catch(exception, host);
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const error = exception instanceof HttpException ? fromHttpException(exception) : toOpenAiError(exception);
    if (error.status >= 500 && error.code === 'internal_error') {
      this.logger.error({ msg: 'OpenAI API request failed', err: exception });
    }
    // A client that went away (or a stream already under way) gets nothing more here.
    if (res.headersSent || res.destroyed || error.status === 499) {
      if (!res.writableEnded) res.end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (error.retryAfterSecs !== undefined) headers['retry-after'] = String(error.retryAfterSecs);
    res.writeHead(error.status, headers);
    res.end(JSON.stringify(error.body()));
  }
}

/** Nest's own HTTP errors on these routes (404 route, 413 body too large, bad JSON) in the same shape. */
function fromHttpException(e: HttpException): OpenAiApiError {
  if (e instanceof HostNotAllowedError) return new OpenAiApiError(403, e.message, 'invalid_request_error', e.code);
  const status = e.getStatus();
  const type = status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  const code = status === 404 ? 'not_found' : status === 413 ? 'request_too_large' : 'invalid_request';
  return new OpenAiApiError(status, e.message, type, code);
}
