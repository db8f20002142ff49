import { buildCallArguments, parseInterval } from '../src/cli/cli.args';
import { CliUsageError, EXIT_CODES, displayUrl, toCliError } from '../src/cli/cli.errors';
import { callCounts, metricsUrl, parsePrometheus } from '../src/cli/cli.metrics';
import { bar, progressText, renderHealth, renderToolHelp, renderWatch, spinnerLine } from '../src/cli/cli.render';
import { ClientConfigError } from '../src/client/client.config';
import { ExaiCallError } from '../src/client/exai-client';

describe('buildCallArguments', () => {
  it('parses values that are JSON and keeps the rest as strings', () => {
    expect(
      buildCallArguments(undefined, [
        'n=3',
        'flag=true',
        'o={"a":1}',
        'text=hello world',
        'q="42"',
        'eq=a=b',
        'empty=',
      ]),
    ).toEqual({ n: 3, flag: true, o: { a: 1 }, text: 'hello world', q: '42', eq: 'a=b', empty: '' });
  });

  it('sets --arg keys on top of the --json object', () => {
    expect(buildCallArguments('{"text":"a","n":1}', ['text=b'])).toEqual({ text: 'b', n: 1 });
  });

  it.each([
    ['{bad', [], /not valid JSON/],
    ['[1]', [], /must be a JSON object/],
    ['null', [], /must be a JSON object/],
    [undefined, ['novalue'], /must be key=value/],
    [undefined, ['=value'], /must be key=value/],
  ])('refuses --json %p --arg %p as a usage error', (json, pairs, message) => {
    expect(() => buildCallArguments(json, pairs)).toThrow(CliUsageError);
    expect(() => buildCallArguments(json, pairs)).toThrow(message);
  });
});

describe('buildCallArguments with the tool schema', () => {
  const props = {
    prompt: { type: 'string' },
    n: { type: 'integer' },
    t: { type: 'number' },
    on: { type: 'boolean' },
    files: { type: 'array' },
    opts: { type: 'object' },
    any: {},
  };

  it('converts each --arg to its schema type', () => {
    expect(
      buildCallArguments(
        undefined,
        ['prompt=123', 'n=4', 't=0.5', 'on=false', 'files=["a"]', 'opts={"k":1}', 'any=7'],
        props,
      ),
    ).toEqual({ prompt: '123', n: 4, t: 0.5, on: false, files: ['a'], opts: { k: 1 }, any: 7 });
    expect(buildCallArguments(undefined, ['prompt=true', 'prompt2={"a":1}'], props)).toEqual({
      prompt: 'true',
      prompt2: { a: 1 },
    });
    // A JSON-quoted string stays the way to write a string with quotes stripped.
    expect(buildCallArguments(undefined, ['prompt="42"'], props)).toEqual({ prompt: '42' });
  });

  it.each([
    ['n=4.5', /n must be a whole number/],
    ['n=', /n must be a whole number/],
    ['t=abc', /t must be a number/],
    ['on=yes', /on must be true or false/],
    ['files={"a":1}', /files must be a JSON array/],
    ['opts=[1]', /opts must be a JSON object/],
  ])('refuses %p as a usage error', (pair, message) => {
    expect(() => buildCallArguments(undefined, [pair], props)).toThrow(CliUsageError);
    expect(() => buildCallArguments(undefined, [pair], props)).toThrow(message);
  });
});

describe('renderToolHelp', () => {
  it('lists required parameters first, with type, allowed values, default and description', () => {
    const text = renderToolHelp({
      name: 'chat',
      description: 'General chat.',
      inputSchema: {
        type: 'object',
        required: ['prompt'],
        properties: {
          thinking_mode: { type: 'string', enum: ['low', 'high'], description: 'How hard to think.' },
          prompt: { type: 'string', description: 'The question.' },
          files: { type: 'array', items: { type: 'string' }, default: [] },
        },
      },
    });
    expect(text.split('\n')).toEqual([
      "Usage: exai call chat [--arg key=value]... [--json '{...}']",
      '',
      'General chat.',
      '',
      'Parameters:',
      '  prompt         string, required: The question.',
      '  files          array of string, optional, default []',
      '  thinking_mode  string, optional, one of "low", "high": How hard to think.',
      '',
      'Values are converted to the parameter type: --arg prompt=123 sends the string "123".',
      '',
    ]);
  });
});

describe('parseInterval', () => {
  it('defaults, accepts whole milliseconds >= 100, refuses the rest', () => {
    expect(parseInterval(undefined, 1000)).toBe(1000);
    expect(parseInterval('250', 1000)).toBe(250);
    for (const bad of ['99', '1.5', 'soon', '-200']) expect(() => parseInterval(bad, 1000)).toThrow(CliUsageError);
  });
});

describe('toCliError', () => {
  const url = 'ws://127.0.0.1:8079/';

  it.each([
    ['EXEC_ERROR', EXIT_CODES.CALL_FAILED],
    ['PROVIDER_ERROR', EXIT_CODES.CALL_FAILED],
    ['PROVIDER_UNAVAILABLE', EXIT_CODES.CALL_FAILED],
    ['TIMEOUT', EXIT_CODES.CALL_FAILED],
    ['INVALID_ARGUMENTS', EXIT_CODES.CALL_FAILED],
    ['TOOL_NOT_FOUND', EXIT_CODES.CALL_FAILED],
    ['SHUTTING_DOWN', EXIT_CODES.CALL_FAILED],
    ['OVER_CAPACITY', EXIT_CODES.OVER_CAPACITY],
    ['CANCELLED', EXIT_CODES.CANCELLED],
    ['DISCONNECTED', EXIT_CODES.NO_CONNECTION],
  ])('maps %s to exit %d', (code, exit) => {
    expect(toCliError(new ExaiCallError(code, 'm'), url, {}).exitCode).toBe(exit);
  });

  it('hints the retry delay for OVER_CAPACITY', () => {
    expect(toCliError(new ExaiCallError('OVER_CAPACITY', 'm', { retry_after: 7 }), url, {}).hint).toBe(
      'retry after 7 s',
    );
  });

  it('names the token variable on unauthorized, and config errors keep their message', () => {
    const refused = toCliError(
      new ExaiCallError('HELLO_REFUSED', 'The daemon refused the hello: unauthorized'),
      url,
      {},
    );
    expect(refused).toMatchObject({ code: 'UNAUTHORIZED', exitCode: 3 });
    expect(refused.hint).toContain('EXAI_WS_TOKEN');
    expect(toCliError(new ClientConfigError('EXAI_WS_URL="x" is bad'), '', {})).toMatchObject({
      code: 'CONFIG',
      message: 'EXAI_WS_URL="x" is bad',
      exitCode: 3,
    });
  });

  it('reads the parts of an AggregateError, whose own message is empty', () => {
    const err = new AggregateError([
      Object.assign(new Error('connect ECONNREFUSED ::1:8079'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8079'), { code: 'ECONNREFUSED' }),
    ]);
    expect(toCliError(err, url, {}).message).toBe(
      `cannot connect to ${url}: connect ECONNREFUSED ::1:8079; connect ECONNREFUSED 127.0.0.1:8079`,
    );
  });

  it('never shows credentials in a URL', () => {
    expect(displayUrl('ws://user:secret@host:1/')).toBe('ws://host:1/');
  });
});

describe('metrics', () => {
  it('derives the HTTP /metrics URL from the ws URL', () => {
    expect(metricsUrl('ws://127.0.0.1:8079/')).toBe('http://127.0.0.1:8079/metrics');
    expect(metricsUrl('wss://u:p@exai.example:443/x?y=1')).toBe('https://exai.example/metrics');
  });

  it('reads exai_calls_total samples, escaped labels included', () => {
    const text = [
      '# HELP exai_calls_total Finished calls by tool and outcome',
      '# TYPE exai_calls_total counter',
      'exai_calls_total{tool="chat",outcome="success"} 12',
      'exai_calls_total{tool="we\\"ird",outcome="EXEC_ERROR"} 1',
      'exai_inflight{limit="global"} 2',
      'garbage line',
    ].join('\n');
    expect(callCounts(parsePrometheus(text))).toEqual([
      { tool: 'chat', outcome: 'success', count: 12 },
      { tool: 'we"ird', outcome: 'EXEC_ERROR', count: 1 },
    ]);
  });
});

describe('render', () => {
  it('fills bars in proportion, clamps them, and never shows a busy limit as empty', () => {
    expect(bar(1, 2, 10)).toBe('[█████░░░░░]');
    expect(bar(9, 2, 4)).toBe('[████]');
    expect(bar(1, 100, 10)).toBe('[█░░░░░░░░░]');
    expect(bar(0, 0, 4)).toBe('[░░░░]');
  });

  it('describes queued progress and skips heartbeats', () => {
    expect(progressText({ note: 'queued', waiting_for: 'GLM', position: 2 })).toBe(
      'queued (waiting for GLM, position 2)',
    );
    expect(progressText({ message: 'slow', level: 'warning' })).toBe('warning: slow');
    expect(progressText({})).toBeUndefined();
  });

  it('keeps the spinner line within the terminal width', () => {
    const line = spinnerLine(0, 'chat', 1500, 'x'.repeat(200), 40);
    expect(line.replace('\r\x1b[K', '')).toHaveLength(39);
  });

  it('shows a down section with its message and a provider last error', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const text = renderHealth(
      {
        status: 'error',
        providers: {
          status: 'down',
          message: 'no provider is usable',
          mode: 'real',
          providers: {
            GLM: {
              mode: 'real',
              configured: true,
              circuit: 'open',
              lastError: { message: 'HTTP 503', at: '2026-01-01T00:00:30Z' },
            },
          },
        },
        audit_extension: { status: 'up' },
      },
      now,
    );
    expect(text).toMatch(/^Status +ERROR/m);
    expect(text).toMatch(/^Providers +DOWN +mode real \(no provider is usable\)$/m);
    expect(text).toMatch(/^ {2}GLM +real +yes +open +HTTP 503 \(30s ago\)$/m);
    expect(text).toMatch(/^audit_extension +up$/m);
  });

  it('keeps watching when /metrics or the daemon is unreachable', () => {
    const text = renderWatch({
      url: 'ws://h:1/',
      now: 0,
      intervalMs: 1000,
      health: { ok: false, error: 'connection lost' },
      calls: { error: 'ECONNREFUSED' },
    });
    expect(text).toContain('Daemon unreachable: connection lost');
    expect(text).toContain('unavailable (/metrics: ECONNREFUSED)');
  });

  it('shows the change since the previous frame only where there is one', () => {
    const text = renderWatch({
      url: 'ws://h:1/',
      now: 0,
      intervalMs: 1000,
      health: { ok: true, snapshot: { status: 'ok' } },
      calls: [
        { tool: 'chat', outcome: 'success', count: 5 },
        { tool: 'test_echo', outcome: 'success', count: 1 },
      ],
      previous: new Map([['chat\0success', 3]]),
    });
    expect(text).toMatch(/^ {2}chat +success +5 +\+2$/m);
    expect(text).toMatch(/^ {2}test_echo +success +1 +\+1$/m);
  });
});
