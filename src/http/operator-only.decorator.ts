import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { OPERATOR_ONLY, type OperatorOnlyOptions } from './http.constants';
import { OperatorAuthGuard } from './operator-auth.guard';

/**
 * Marks an HTTP handler that needs the token when the daemon is bound off
 * loopback with one (OperatorAuthGuard). Liveness and readiness stay open.
 */
export function OperatorOnly(options: OperatorOnlyOptions = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(OPERATOR_ONLY, options), UseGuards(OperatorAuthGuard));
}
