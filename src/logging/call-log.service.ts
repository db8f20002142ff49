import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Logger as Pino } from 'pino';
import type { ActivityEvent } from '../activity/activity.service';

/** What the one info line per finished call carries: the activity ring's fields (fixed keys, scalar values). */
export type CallEndFields = Omit<ActivityEvent, 'at'> & { participants?: number };

/** Writes "Call ended" for one context (the class that ends calls). */
export type CallEndLogger = (fields: CallEndFields) => void;

/**
 * The "Call ended" line, the one info line every call writes, kept cheap: it
 * goes straight to a pino child bound once per context instead of through
 * Nest's Logger and nestjs-pino (which rebuild the context object for every
 * line), and the child skips redaction. That is safe for this line only: its
 * keys are fixed by CallEndFields and its values scalars, so no redacted path
 * (a token or API key field, at any depth) can ever match in it.
 */
@Injectable()
export class CallLogService {
  constructor(private readonly pino: PinoLogger) {}

  /** A writer for `context`; call once (at construction), not per call. */
  for(context: string): CallEndLogger {
    const line: Pino = this.pino.logger.child({ context }, { redact: [] });
    return (fields) => line.info(fields, 'Call ended');
  }
}
