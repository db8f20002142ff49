import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpAccessService } from './http-access.service';
import { OPERATOR_ONLY, type OperatorOnlyOptions } from './http.constants';

/** The slice of the Express request this guard reads. */
type HttpRequest = IncomingMessage & { query?: Record<string, unknown> };

/**
 * Guards the endpoints that describe the daemon's internals (providers, last
 * errors, sessions, metrics) when it is bound off loopback with a token.
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(
    private readonly access: HttpAccessService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || !this.access.tokenRequired) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<HttpRequest>();
    const options = this.reflector.get<OperatorOnlyOptions | undefined>(OPERATOR_ONLY, context.getHandler());
    const query = options?.queryToken ? req.query?.token : undefined;
    const presented = bearer(req.headers.authorization) ?? (typeof query === 'string' ? query : undefined);
    if (this.access.tokenAccepted(presented)) return true;
    http.getResponse<ServerResponse>().setHeader('WWW-Authenticate', 'Bearer realm="exai"');
    throw new UnauthorizedException(
      `This endpoint needs Authorization: Bearer <EXAI_WS_TOKEN>${options?.queryToken ? ' (or ?token=)' : ''} when the daemon is bound off loopback`,
    );
  }
}

/** The token of an `Authorization: Bearer …` header; undefined when absent or another scheme. */
export function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
