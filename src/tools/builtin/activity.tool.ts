import { Injectable } from '@nestjs/common';
import { ActivityService } from '../../activity/activity.service';
import { ExaiTool } from '../exai-tool.decorator';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

const MAX_FILTER_CHARS = 200;
// A quantified group that is itself quantified ((a+)+, (a*)*, (a|b+){2,}) can
// take exponential time on a line that almost matches.
const NESTED_QUANTIFIER = /\([^)]*[+*}][^)]*\)\s*[+*{]/;

@ExaiTool({
  name: 'activity',
  description:
    "The most recent finished calls as plain-text lines (or JSON Lines with structured), from the daemon's bounded in-memory activity ring; a caller sees its own session's calls unless EXAI_ACTIVITY_SCOPE=global.",
  inputSchema: {
    type: 'object',
    properties: {
      lines: {
        type: 'integer',
        default: 200,
        description: 'How many calls to show; clamped to 10–5000.',
      },
      filter: {
        type: 'string',
        maxLength: MAX_FILTER_CHARS,
        description:
          'A regular expression (case-insensitive) a line must match, e.g. "outcome=(TIMEOUT|PROVIDER_ERROR)" or "tool=chat".',
      },
      source: {
        enum: ['auto', 'activity', 'server'],
        default: 'auto',
        description: 'Accepted for compatibility: every source is the same activity ring.',
      },
      since: { type: 'string', description: 'Only calls that ended at or after this ISO time.' },
      until: { type: 'string', description: 'Only calls that ended at or before this ISO time.' },
      structured: {
        type: 'boolean',
        default: false,
        description: 'Return one JSON object per line (JSON Lines) instead of text lines.',
      },
      model: SCHEMA.ignoredModel,
    },
    additionalProperties: false,
  },
  cacheable: false,
  timeoutSecs: 10,
})
@Injectable()
export class ActivityTool implements ExaiToolHandler {
  constructor(private readonly activity: ActivityService) {}

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const limit = Math.min(5000, Math.max(10, Number(args.lines ?? 200)));
    const events = this.activity.recent({
      sessionId: ctx.sessionId,
      limit,
      filter: typeof args.filter === 'string' && args.filter !== '' ? compileFilter(args.filter) : undefined,
      since: time(args.since, 'since'),
      until: time(args.until, 'until'),
    });
    const content =
      args.structured === true
        ? events.map((e) => JSON.stringify(e.event)).join('\n')
        : events.map((e) => e.line).join('\n');
    return Promise.resolve({
      content,
      contentType: 'text',
      metadata: { events: events.length, scope: this.activity.scope },
    });
  }
}

function compileFilter(pattern: string): RegExp {
  if (NESTED_QUANTIFIER.test(pattern)) {
    throw new InvalidArgumentsError('filter has a nested quantifier such as (a+)+, which can take forever to match', {
      filter: pattern,
    });
  }
  try {
    return new RegExp(pattern, 'i');
  } catch (err) {
    throw new InvalidArgumentsError(`filter is not a valid regular expression: ${(err as Error).message}`, {
      filter: pattern,
    });
  }
}

function time(value: unknown, field: string): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentsError(`${field} is not an ISO date-time: ${value}`, { [field]: value });
  return ms;
}
