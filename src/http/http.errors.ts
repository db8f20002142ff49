import { ForbiddenException } from '@nestjs/common';

/** A request whose Host header names something this daemon is not bound as (DNS rebinding). */
export class HostNotAllowedError extends ForbiddenException {
  /** The wire code, for bodies that carry one (the OpenAI API's). */
  readonly code = 'host_not_allowed';

  constructor(shownHost: string) {
    super(`Host "${shownHost}" is not served here; add it to EXAI_HTTP_ALLOWED_HOSTS if it names this daemon`);
  }
}
