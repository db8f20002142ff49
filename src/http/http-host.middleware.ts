import { Injectable, NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpAccessService } from './http-access.service';
import { HostNotAllowedError } from './http.errors';

/** Longest part of a refused Host header echoed back. */
const SHOWN_HOST_MAX = 100;

/** Refuses every HTTP request whose Host header names something this daemon is not bound as. */
@Injectable()
export class HttpHostMiddleware implements NestMiddleware {
  constructor(private readonly access: HttpAccessService) {}

  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    if (this.access.hostAllowed(req.headers.host)) return next();
    res.setHeader('Cache-Control', 'no-store');
    // Thrown, not written: the exception filters give it each route's error shape (OpenAI's under /v1).
    throw new HostNotAllowedError((req.headers.host ?? '').slice(0, SHOWN_HOST_MAX));
  }
}
