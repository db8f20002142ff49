import { Injectable, NestMiddleware } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger as Pino } from 'pino';

/** Status pages and scrapers poll these; a line for every poll would bury the useful ones. */
const QUIET_PATHS = /^\/(health|metrics|status|favicon)/;
/** Query parameters whose value is a credential by its name (`?token=` opens the status page). */
const SECRET_PARAM = /token|key|secret|passw|auth|sig|credential/i;
/** Request ids wrap here, as pino-http's did. */
const MAX_REQUEST_ID = 2147483647;

/** Express sets originalUrl: the URL as the client sent it, before any router rewrote `url`. */
type LoggedRequest = IncomingMessage & { originalUrl?: string };

/**
 * The one line per HTTP request: "request completed" (or "request aborted",
 * "request errored" for a 5xx or a response error), with the fields
 * pino-http wrote: `req` (id, method, url, remoteAddress), `res`
 * (statusCode) and `responseTime` in ms. Written here instead of by
 * pino-http through nestjs-pino's middleware, which cost a /v1 call about a
 * fifth of what it allocated: two child loggers per request, the redaction
 * of their bindings and of the line, and an AsyncLocalStorage context per
 * request, which on Node 20 turns on promise hooks for the whole process
 * (every promise after the first HTTP request, WebSocket calls' too, paid
 * for them). The completed line skips redaction, like "Call ended": its keys
 * are fixed and its values scalar; the errored line, which carries an error,
 * keeps it.
 */
@Injectable()
export class HttpRequestLogMiddleware implements NestMiddleware {
  private readonly logger: Pino;
  private readonly completedLine: Pino;
  private lastId = 0;

  constructor(pino: PinoLogger) {
    this.logger = pino.logger;
    this.completedLine = pino.logger.child({}, { redact: [] });
  }

  use(req: LoggedRequest, res: ServerResponse, next: () => void): void {
    const started = Date.now();
    const id = (this.lastId = (this.lastId + 1) & MAX_REQUEST_ID);
    const quiet = QUIET_PATHS.test(req.originalUrl ?? req.url ?? '');
    const done = (err?: Error): void => {
      res.off('close', done).off('finish', done).off('error', done);
      this.write(id, req, res, Date.now() - started, err);
    };
    // A quiet path still gets a line when its response fails.
    if (!quiet) res.on('close', done).on('finish', done);
    res.on('error', done);
    next();
  }

  private write(id: number, req: LoggedRequest, res: ServerResponse, responseTime: number, err?: Error): void {
    const fields = {
      req: {
        id,
        method: req.method,
        url: loggableUrl(req.originalUrl ?? req.url ?? ''),
        remoteAddress: req.socket?.remoteAddress,
      },
      res: { statusCode: res.statusCode },
      responseTime,
    };
    if (err || res.statusCode >= 500) {
      this.logger.info(
        { ...fields, err: err ?? new Error(`failed with status code ${res.statusCode}`) },
        'request errored',
      );
      return;
    }
    this.completedLine.info(
      fields,
      !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted',
    );
  }
}

/**
 * The URL as logged: a query parameter named like a credential keeps its name
 * and loses its value, since a browser or script that puts a token in the URL
 * must not find it in the log.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      return SECRET_PARAM.test(safeDecode(name)) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
