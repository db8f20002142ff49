import type { ProgressInfo, ToolInfo } from '../client/exai-client';
import { isPlainObject } from './cli.args';
import type { CallCount } from './cli.metrics';

type Dict = Record<string, unknown>;

const KNOWN_SECTIONS = new Set(['concurrency', 'providers', 'routing', 'gateway']);
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 20;

export const ANSI = {
  clearLine: '\r\x1b[K',
  clearScreen: '\x1b[H\x1b[2J',
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
} as const;

/** The health snapshot is the daemon's, so every field is read defensively. */
const dict = (v: unknown): Dict => (isPlainObject(v) ? v : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
function show(v: unknown): string {
  if (typeof v === 'string') return v === '' ? '-' : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === undefined || v === null ? '-' : JSON.stringify(v);
}

/** Left-aligned columns; the last column is not padded so lines carry no trailing blanks. */
export function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '))
    .map((line) => line.trimEnd())
    .join('\n');
}

export function bar(used: number, capacity: number, width = BAR_WIDTH): string {
  let filled = capacity > 0 ? Math.round((Math.min(used, capacity) / capacity) * width) : 0;
  // One busy slot out of many would round to an empty bar and look idle.
  if (used > 0 && filled === 0) filled = 1;
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

export function humanAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function since(iso: unknown, now: number): string {
  const at = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Number.isNaN(at) ? show(iso) : `${iso as string} (${humanAge(now - at)} ago)`;
}

export function renderTools(tools: ToolInfo[]): string {
  if (tools.length === 0) return 'No tools.\n';
  const rows = [...tools]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t) => [t.name, (t.description ?? '').split('\n')[0].trim()]);
  return `${table(rows, '')}\n`;
}

/**
 * `exai call <tool> --help`: the tool's description and one line per
 * parameter from its inputSchema (type, required, allowed values, default),
 * then how to pass them.
 */
export function renderToolHelp(tool: ToolInfo): string {
  const schema = tool.inputSchema ?? {};
  const props = (
    typeof schema.properties === 'object' && schema.properties !== null ? schema.properties : {}
  ) as Record<string, Record<string, unknown>>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const names = Object.keys(props).sort(
    (a, b) => Number(required.has(b)) - Number(required.has(a)) || a.localeCompare(b),
  );
  const lines = [`Usage: exai call ${tool.name} [--arg key=value]... [--json '{...}']`, ''];
  if (tool.description) lines.push(tool.description.trim(), '');
  if (names.length === 0) {
    lines.push('Parameters: none');
  } else {
    lines.push('Parameters:');
    const rows = names.map((name) => {
      const p = props[name];
      const facts = [typeLabel(p), required.has(name) ? 'required' : 'optional'];
      if (Array.isArray(p.enum)) facts.push(`one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}`);
      if (p.default !== undefined) facts.push(`default ${JSON.stringify(p.default)}`);
      const description = typeof p.description === 'string' ? `: ${p.description}` : '';
      return [`  ${name}`, `${facts.join(', ')}${description}`];
    });
    lines.push(table(rows, ''));
  }
  lines.push('', 'Values are converted to the parameter type: --arg prompt=123 sends the string "123".');
  return `${lines.join('\n')}\n`;
}

function typeLabel(p: Record<string, unknown>): string {
  if (Array.isArray(p.type)) return p.type.join(' | ');
  if (p.type === 'array' && typeof p.items === 'object' && p.items !== null) {
    const item = (p.items as Record<string, unknown>).type;
    if (typeof item === 'string') return `array of ${item}`;
  }
  return typeof p.type === 'string' ? p.type : 'any';
}

/** What a progress frame says, or undefined for a bare heartbeat. */
export function progressText(p: ProgressInfo): string | undefined {
  if (p.note === 'queued') {
    const detail = [
      p.waiting_for && `waiting for ${p.waiting_for}`,
      p.position !== undefined && `position ${p.position}`,
    ]
      .filter(Boolean)
      .join(', ');
    return detail ? `queued (${detail})` : 'queued';
  }
  if (p.message) return p.level && p.level !== 'info' ? `${p.level}: ${p.message}` : p.message;
  return p.note;
}

/** A line longer than the terminal wraps, and `\r` would then redraw only its tail. */
export function spinnerLine(
  tick: number,
  tool: string,
  elapsedMs: number,
  note: string | undefined,
  width = 80,
): string {
  const head = `${SPINNER[tick % SPINNER.length]} ${tool} ${(elapsedMs / 1000).toFixed(1)}s`;
  const line = note ? `${head}  ${note.replace(/\s+/g, ' ')}` : head;
  return `${ANSI.clearLine}${line.length >= width ? `${line.slice(0, Math.max(1, width - 2))}…` : line}`;
}

interface LimitRow {
  limit: string;
  inFlight: number;
  capacity: number;
}

/** Capacity keys are global, each provider, and `session`; the session's in-flight is the busiest one's. */
function limitRows(concurrency: Dict): LimitRow[] {
  const capacity = dict(concurrency.capacity);
  const inFlight = dict(concurrency.inFlight);
  return Object.entries(capacity).map(([limit, cap]) => ({
    limit,
    capacity: num(cap) ?? 0,
    inFlight: num(inFlight[limit]) ?? (limit === 'session' ? num(inFlight.session_max) : undefined) ?? 0,
  }));
}

function providerEntries(health: Dict): Array<[string, Dict]> {
  return Object.entries(dict(dict(health.providers).providers)).map(([id, p]) => [id, dict(p)]);
}

function lastError(p: Dict, now: number): string {
  const err = dict(p.lastError);
  const message = str(err.message);
  if (!message) return '-';
  const at = str(err.at);
  return at && !Number.isNaN(Date.parse(at)) ? `${message} (${humanAge(now - Date.parse(at))} ago)` : message;
}

/** `Label        up    text`; a section that is not up shows its status in capitals and its message. */
function heading(label: string, status: string | undefined, text: string, message?: string): string {
  const shown = status === undefined ? '' : status === 'up' || status === 'ok' ? status : status.toUpperCase();
  return `${label.padEnd(12)} ${shown.padEnd(6)}${text}${message ? ` (${message})` : ''}`.trimEnd();
}

function sectionHeading(label: string, section: Dict, text: string): string {
  return heading(label, str(section.status) ?? '-', text, str(section.message));
}

function percent(ratio: number | undefined): string {
  return ratio === undefined ? '-' : `${Math.round(ratio * 1000) / 10}%`;
}

/** The `health` op's snapshot as a readable report. */
export function renderHealth(health: Dict, now = Date.now()): string {
  const out: string[] = [];
  const gateway = dict(health.gateway);
  const concurrency = dict(health.concurrency);
  const providers = dict(health.providers);
  const routing = dict(health.routing);

  const facts = [
    str(health.uptime_human) && `uptime ${str(health.uptime_human)}`,
    num(health.tool_count) !== undefined && `${num(health.tool_count)} tools`,
  ].filter(Boolean);
  out.push(heading('Status', show(health.status), facts.join(', ')));
  out.push(
    sectionHeading(
      'Gateway',
      gateway,
      `connections ${show(gateway.connections)}, sessions ${show(gateway.sessions ?? health.sessions)}, calls in flight ${show(gateway.in_flight_calls)}`,
    ),
  );
  out.push(
    sectionHeading(
      'Concurrency',
      concurrency,
      `profile ${show(concurrency.profile)}, backend ${show(concurrency.backend)}`,
    ),
  );
  const rows = limitRows(concurrency).map((r) => [
    r.limit,
    String(r.inFlight),
    String(r.capacity),
    r.limit === 'session' ? '(busiest session)' : '',
  ]);
  out.push(table([['LIMIT', 'IN-FLIGHT', 'CAPACITY', ''], ...rows]));
  const reclaimed = Object.entries(dict(concurrency.reclaimed))
    .map(([k, v]) => `${k} ${show(v)}`)
    .join(', ');
  out.push(
    `  queue ${show(concurrency.queued)} waiting · leases ${show(concurrency.leases)} · active sessions ${show(concurrency.activeSessions)}${reclaimed ? ` · reclaimed ${reclaimed}` : ''}`,
  );

  out.push(sectionHeading('Providers', providers, `mode ${show(providers.mode)}`));
  const providerRows = providerEntries(health).map(([id, p]) => [
    id,
    show(p.mode),
    p.configured === false ? 'no' : 'yes',
    show(p.circuit),
    lastError(p, now),
  ]);
  out.push(
    providerRows.length
      ? table([['PROVIDER', 'MODE', 'CONFIGURED', 'CIRCUIT', 'LAST ERROR'], ...providerRows])
      : '  (no providers)',
  );

  out.push(
    sectionHeading(
      'Routing',
      routing,
      `hit ratio ${percent(num(routing.hitRatio))} (${show(routing.hits)} hits, ${show(routing.misses)} misses), cache ${show(routing.cacheSize)}/${show(routing.maxEntries)}`,
    ),
  );
  out.push(heading('Last audit', '', concurrency.lastAuditAt ? since(concurrency.lastAuditAt, now) : 'not yet'));

  // Extension modules can register their own indicators; list them rather than hide them.
  const others = Object.entries(health).filter(
    ([key, v]) => !KNOWN_SECTIONS.has(key) && isPlainObject(v) && typeof v.status === 'string',
  );
  for (const [key, v] of others) out.push(sectionHeading(key, dict(v), ''));
  return `${out.join('\n')}\n`;
}

export interface WatchFrame {
  url: string;
  now: number;
  intervalMs: number;
  health: { ok: true; snapshot: Dict } | { ok: false; error: string };
  calls: CallCount[] | { error: string };
  /** Counts of the previous frame by `tool\0outcome`, for the change column. */
  previous?: Map<string, number>;
}

export const callKey = (c: CallCount): string => `${c.tool}\0${c.outcome}`;

const MAX_CALL_ROWS = 20;

/** One screen of `exai watch`. */
export function renderWatch(frame: WatchFrame): string {
  const out: string[] = [];
  const clock = new Date(frame.now).toISOString().slice(11, 19);
  const status = frame.health.ok ? show(frame.health.snapshot.status) : 'unreachable';
  out.push(`exai watch  ${frame.url}  status ${status}  ${clock} UTC  (every ${frame.intervalMs / 1000}s)`);
  out.push('');

  if (!frame.health.ok) {
    out.push(`Daemon unreachable: ${frame.health.error}`);
  } else {
    const health = frame.health.snapshot;
    const concurrency = dict(health.concurrency);
    out.push('In flight');
    out.push(
      table(
        limitRows(concurrency).map((r) => [
          r.limit,
          bar(r.inFlight, r.capacity),
          `${r.inFlight}/${r.capacity}`,
          r.limit === 'session' ? '(busiest session)' : '',
        ]),
      ),
    );
    out.push(`Queue  ${show(concurrency.queued)} waiting`);
    out.push('');
    out.push('Circuits');
    const circuits = providerEntries(health).map(([id, p]) => {
      const error = lastError(p, frame.now);
      return [id, show(p.circuit), error === '-' ? '' : `last error: ${error}`];
    });
    out.push(circuits.length ? table(circuits) : '  (no providers)');
  }

  out.push('');
  out.push('Recent calls (exai_calls_total, change since the previous frame)');
  out.push(renderCalls(frame.calls, frame.previous));
  return `${out.join('\n')}\n`;
}

function renderCalls(calls: CallCount[] | { error: string }, previous: Map<string, number> | undefined): string {
  if (!Array.isArray(calls)) return `  unavailable (/metrics: ${calls.error})`;
  if (calls.length === 0) return '  none yet';
  const rows = calls.slice(0, MAX_CALL_ROWS).map((c) => {
    const before = previous?.get(callKey(c));
    const change = previous === undefined ? '' : c.count - (before ?? 0);
    return [c.tool, c.outcome, String(c.count), typeof change === 'number' && change > 0 ? `+${change}` : ''];
  });
  const more = calls.length > MAX_CALL_ROWS ? `\n  … ${calls.length - MAX_CALL_ROWS} more` : '';
  return table([['TOOL', 'OUTCOME', 'TOTAL', 'CHANGE'], ...rows]) + more;
}
