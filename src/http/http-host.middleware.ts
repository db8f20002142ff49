import { Injectable, NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpAccessService } from './http-access.service';

/** Longest part of a refused Host header echoed back. */
const SHOWN_HOST_MAX = 100;

/** Refuses every HTTP request whose Host header names something this daemon is not bound as. */
@Injectable()
export class HttpHostMiddleware implements NestMiddleware {
  constructor(private readonly access: HttpAccessService) {}

  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    if (this.access.hostAllowed(req.headers.host)) return next();
    const shown = (req.headers.host ?? '').slice(0, SHOWN_HOST_MAX);
    res.statusCode = 403;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(
      JSON.stringify({
        statusCode: 403,
        error: 'Forbidden',
        message: `Host "${shown}" is not served here; add it to EXAI_HTTP_ALLOWED_HOSTS if it names this daemon`,
      }),
    );
  }
}
