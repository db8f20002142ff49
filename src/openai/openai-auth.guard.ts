import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { GatewayAuthService } from '../auth/gateway-auth.service';
import { bearer } from '../http/operator-auth.guard';
import { OpenAiApiError } from './openai.errors';

/** `Authorization: Bearer <token>`, the WebSocket's token, compared in constant time. */
@Injectable()
export class OpenAiAuthGuard implements CanActivate {
  constructor(private readonly auth: GatewayAuthService) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.auth.authEnabled) return true;
    const req = context.switchToHttp().getRequest<IncomingMessage>();
    if (this.auth.accepts(bearerToken(req))) return true;
    throw new OpenAiApiError(
      401,
      'Incorrect or missing API key: send the gateway token (EXAI_WS_TOKEN) as "Authorization: Bearer <token>".',
      'invalid_request_error',
      'invalid_api_key',
    );
  }
}

/** The bearer token of a request, as the operator endpoints read it. */
export function bearerToken(req: IncomingMessage): string | undefined {
  return bearer(req.headers.authorization);
}
