import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { activityConfig } from './activity.config';

/** One finished call, as the activity tools show it. */
export interface ActivityEvent {
  at: string;
  session_id: string;
  request_id: string;
  tool: string;
  provider?: string;
  model?: string;
  outcome: string;
  admitted: boolean;
  duration_ms: number;
}

export interface ActivityQuery {
  /** The caller's session: with scope `session` only its events are returned. */
  sessionId: string;
  limit: number;
  filter?: RegExp;
  since?: number;
  until?: number;
}

/**
 * The recent-calls ring behind `activity`, `health` and `status`: in memory,
 * bounded by event count and by bytes, oldest dropped first. It replaces the
 * old daemon's log-file tails, so it works the same in a container with no
 * writable disk.
 */
@Injectable()
export class ActivityService {
  private readonly events: Array<{ event: ActivityEvent; line: string; at: number; bytes: number }> = [];
  private bytes = 0;
  /** The ISO text of the last second a call ended in: every call stamps its end, most in the same second. */
  private stampSecond = NaN;
  private stampPrefix = '';

  constructor(@Inject(activityConfig.KEY) private readonly config: ConfigType<typeof activityConfig>) {}

  record(event: Omit<ActivityEvent, 'at'>, now = Date.now()): void {
    const full: ActivityEvent = { at: this.isoTime(now), ...event };
    const line = formatLine(full);
    const bytes = Buffer.byteLength(line);
    this.events.push({ event: full, line, at: now, bytes });
    this.bytes += bytes;
    while (
      this.events.length > this.config.maxEvents ||
      (this.bytes > this.config.maxBytes && this.events.length > 1)
    ) {
      this.bytes -= this.events.shift()!.bytes;
    }
  }

  /** The newest `limit` matching events, oldest first, with their one-line form. */
  recent(query: ActivityQuery): Array<{ event: ActivityEvent; line: string }> {
    const out: Array<{ event: ActivityEvent; line: string }> = [];
    for (let i = this.events.length - 1; i >= 0 && out.length < query.limit; i--) {
      const e = this.events[i];
      if (this.config.scope === 'session' && e.event.session_id !== query.sessionId) continue;
      if (query.since !== undefined && e.at < query.since) continue;
      if (query.until !== undefined && e.at > query.until) continue;
      if (query.filter && !query.filter.test(e.line)) continue;
      out.push({ event: e.event, line: e.line });
    }
    return out.reverse();
  }

  /** `new Date(now).toISOString()`, formatting the date part once per second rather than once per call. */
  private isoTime(now: number): string {
    const ms = now % 1000;
    const second = now - ms;
    if (second !== this.stampSecond) {
      this.stampSecond = second;
      this.stampPrefix = new Date(second).toISOString().slice(0, -4);
    }
    return `${this.stampPrefix}${String(ms).padStart(3, '0')}Z`;
  }

  get scope(): 'session' | 'global' {
    return this.config.scope;
  }

  get size(): { events: number; bytes: number } {
    return { events: this.events.length, bytes: this.bytes };
  }
}

/** One string built in one go: the ring formats a line for every call that ends. */
function formatLine(e: ActivityEvent): string {
  const provider = e.provider ? ` provider=${e.provider}` : '';
  const model = e.model ? ` model=${e.model}` : '';
  return (
    `${e.at} tool=${e.tool} outcome=${e.outcome}${provider}${model} duration_ms=${e.duration_ms} ` +
    `admitted=${e.admitted} request_id=${e.request_id} session=${e.session_id}`
  );
}
