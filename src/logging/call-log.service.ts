import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Logger as Pino } from 'pino';
import type { ActivityEvent } from '../activity/activity.service';
import type { RedactedKey } from './logging.constants';

/** What the one info line per finished call carries: the activity ring's fields (fixed keys, scalar values). */
export type CallEndFields = Omit<ActivityEvent, 'at'> & { participants?: number };

/** Writes "Call ended" for one context (the class that ends calls). */
export type CallEndLogger = (fields: CallEndFields) => void;

/** The fields of a fixed line: scalar values, under keys no redacted path names. */
export type FixedLineFields = { readonly [key: string]: string | number | boolean | undefined } & {
  readonly [K in RedactedKey]?: never;
};

/**
 * Lines written once per call or per connection, kept cheap: they go straight
 * to a pino child bound once per context instead of through Nest's Logger and
 * nestjs-pino (which rebuild the context object for every line), and the
 * child skips redaction, which would otherwise cost more than the rest of the
 * line (pino 10's redaction parses every path again for every field of every
 * line: about 15 KB allocated per line). That is safe for fixed lines only:
 * their keys are fixed by their types and their values scalars, so no
 * redacted path (a token or API key field, at any depth) can ever match.
 */
@Injectable()
export class CallLogService {
  constructor(private readonly pino: PinoLogger) {}

  /** A writer for `context`; call once (at construction), not per call. */
  for(context: string): CallEndLogger {
    const line = this.unredacted(context);
    return (fields) => line.info(fields, 'Call ended');
  }

  /**
   * A writer of the fixed line `msg` for `context`, with `msg` first as Nest's
   * logger writes it; call once (at construction), not per line.
   */
  line<F extends FixedLineFields>(context: string, msg: string): (fields: F) => void {
    const line = this.unredacted(context);
    return (fields) => line.info({ msg, ...fields });
  }

  private unredacted(context: string): Pino {
    return this.pino.logger.child({ context }, { redact: [] });
  }
}
