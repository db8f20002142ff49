import { ProviderSimulator, SimulatorOptions } from '../src/simulator/simulator.server';
import { SimulatorStateError } from '../src/simulator/simulator.errors';

const GLM_KEY = 'sim-glm-key';
const KIMI_KEY = 'sim-kimi-key';
const REQUEST_TIMEOUT_MS = 5_000;

type Json = Record<string, unknown>;

interface WireToolCall {
  id?: string;
  index?: number;
  type?: string;
  function: { name?: string; arguments: string };
}

interface WireMessage {
  role?: string;
  content?: string;
  reasoning_content?: string;
  tool_calls?: WireToolCall[];
}

interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens?: number;
  prompt_tokens_details?: { cached_tokens: number };
}

interface WireChoice {
  index: number;
  finish_reason?: string | null;
  message: WireMessage;
  delta: WireMessage;
  usage?: WireUsage;
}

interface WireSearchItem {
  title: string;
  content: string;
  link: string;
  refer: string;
}

/** Every response shape the simulator sends, loosely merged: each test reads the part it asserts. */
interface WireBody {
  id: string;
  object?: string;
  created: number;
  model: string;
  request_id?: string;
  choices: WireChoice[];
  usage: WireUsage;
  web_search?: WireSearchItem[];
  error: { code?: string; type?: string; message: string };
  data: Array<{ id: string; object: string; owned_by: string; created: number }>;
  search_result: WireSearchItem[];
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: WireBody;
}

interface SseResult {
  frames: WireBody[];
  /** Frame payloads that are not JSON (the malformed fault). */
  broken: string[];
  done: boolean;
}

let sim: ProviderSimulator;

beforeAll(async () => {
  sim = new ProviderSimulator({ speed: 0 });
  await sim.start();
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => sim.reset());

function boundedSignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

function glmUrl(path: string, on: ProviderSimulator = sim): string {
  return `${on.glmBaseUrl}${path}`;
}

function kimiUrl(path: string, on: ProviderSimulator = sim): string {
  return `${on.kimiBaseUrl}${path}`;
}

function post(url: string, body: unknown, key: string | null, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  return fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: boundedSignal(signal),
  });
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json = {} as WireBody;
  try {
    json = JSON.parse(text) as WireBody;
  } catch {
    // Left empty: HTML and malformed bodies are asserted through `text`.
  }
  return { status: res.status, headers: res.headers, text, json };
}

function glm(body: Json, on: ProviderSimulator = sim, key: string | null = GLM_KEY): Promise<Reply> {
  return post(glmUrl('/chat/completions', on), body, key).then(reply);
}

function kimi(body: Json, on: ProviderSimulator = sim, key: string | null = KIMI_KEY): Promise<Reply> {
  return post(kimiUrl('/chat/completions', on), body, key).then(reply);
}

function user(content: string): Json[] {
  return [{ role: 'user', content }];
}

/** Frames are separated by a blank line; each is `data: <json>` or `data: [DONE]`. */
function parseSse(text: string): SseResult {
  const result: SseResult = { frames: [], broken: [], done: false };
  for (const block of text.split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data === '') continue;
    if (data === '[DONE]') {
      result.done = true;
      continue;
    }
    try {
      result.frames.push(JSON.parse(data) as WireBody);
    } catch {
      result.broken.push(data);
    }
  }
  return result;
}

function deltas(frames: WireBody[], field: 'content' | 'reasoning_content'): string {
  return frames.map((f) => f.choices?.[0]?.delta?.[field] ?? '').join('');
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function withSim<T>(options: SimulatorOptions, run: (s: ProviderSimulator) => Promise<T>): Promise<T> {
  const other = new ProviderSimulator({ speed: 0, ...options });
  await other.start();
  try {
    return await run(other);
  } finally {
    await other.stop();
  }
}

/** Reads a body to its end, keeping what arrived if the connection is cut. */
async function readUntilEnd(res: Response): Promise<{ text: string; failed: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, failed: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, failed: true };
  }
}

/** Reads a stream until `enough(textSoFar)` holds, then aborts the request. */
async function readThenAbort(
  url: string,
  body: Json,
  key: string,
  enough: (text: string) => boolean,
  abortAfterMs = 100,
): Promise<string> {
  const controller = new AbortController();
  const res = await post(url, body, key, controller.signal);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!enough(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended early: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  const pending = reader.read().then(
    (r) => (r.done ? 'done' : 'data'),
    () => 'aborted',
  );
  const outcome = await Promise.race([
    pending,
    new Promise<string>((resolve) => setTimeout(() => resolve('silent'), abortAfterMs)),
  ]);
  expect(outcome).toBe('silent');
  controller.abort();
  await pending;
  return text;
}

describe('routes and models', () => {
  it.each(['/api/paas/v4', '/api/coding/paas/v4'])('GLM lists its models under %s', async (prefix) => {
    const res = await fetch(`${sim.url}${prefix}/models`, {
      headers: { authorization: `Bearer ${GLM_KEY}` },
      signal: boundedSignal(),
    }).then(reply);
    expect(res.status).toBe(200);
    expect(res.json.object).toBe('list');
    const ids = res.json.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['glm-4.5', 'glm-4.5-air', 'glm-4.5-flash', 'glm-4.6', 'glm-4.7']));
    expect(ids).toContain('glm-4-32b-0414-128k');
    expect(res.json.data[0]).toEqual({ id: 'glm-4.5', object: 'model', created: expect.any(Number), owned_by: 'z-ai' });
    expect(ids).toEqual(sim.models('glm').map((m) => m.id));
  });

  it('Kimi lists its models and the in-process table carries context and thinking', async () => {
    const res = await fetch(kimiUrl('/models'), {
      headers: { authorization: `Bearer ${KIMI_KEY}` },
      signal: boundedSignal(),
    }).then(reply);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ object: 'list', data: expect.any(Array) });
    expect(res.json.data.every((m) => m.object === 'model' && m.owned_by === 'moonshot')).toBe(true);
    const table = new Map(sim.models('kimi').map((m) => [m.id, m]));
    expect(table.get('kimi-k2-0905-preview')?.contextWindow).toBe(262144);
    expect(table.get('kimi-latest')?.contextWindow).toBe(131072);
    expect(table.get('moonshot-v1-8k')?.contextWindow).toBe(8192);
    expect(table.get('kimi-k2-thinking')).toMatchObject({ thinking: true, defaultTemperature: 1.0 });
    for (const id of ['kimi-k2-turbo-preview', 'kimi-k2-thinking-turbo', 'moonshot-v1-32k', 'moonshot-v1-128k']) {
      expect(table.has(id)).toBe(true);
    }
    expect(sim.models('glm').find((m) => m.id === 'glm-4.7')?.contextWindow).toBeGreaterThanOrEqual(200_000);
    expect(sim.models('glm').find((m) => m.id === 'glm-4-32b-0414-128k')?.thinking).toBe(false);
  });

  it('answers 404 for an unknown path and 405 for a wrong method', async () => {
    const unknown = await fetch(`${sim.url}/nowhere`, { signal: boundedSignal() });
    expect(unknown.status).toBe(404);
    const kimiUnknown = await post(kimiUrl('/embeddings'), {}, KIMI_KEY).then(reply);
    expect(kimiUnknown.status).toBe(404);
    expect(kimiUnknown.json.error.type).toBe('resource_not_found_error');
    const wrong = await fetch(kimiUrl('/chat/completions'), { signal: boundedSignal() });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const glmWrong = await post(glmUrl('/models'), {}, GLM_KEY);
    expect(glmWrong.status).toBe(405);
    expect(sim.openRequests).toBe(0);
  });

  it('throws a typed error for its URL before start', () => {
    expect(() => new ProviderSimulator().url).toThrow(SimulatorStateError);
  });
});

describe('auth', () => {
  it('GLM: missing header → 401 code 1001, bad key → 401 code 1002', async () => {
    const missing = await glm({ model: 'glm-4.5', messages: user('hi') }, sim, null);
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual({ error: { code: '1001', message: expect.any(String) } });
    const bad = await glm({ model: 'glm-4.5', messages: user('hi') }, sim, 'wrong');
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe('1002');
    expect(bad.json.error.type).toBeUndefined();
  });

  it('Kimi: missing or bad key → 401 invalid_authentication_error', async () => {
    for (const key of [null, 'sim-glm-key']) {
      const res = await kimi({ model: 'kimi-latest', messages: user('hi') }, sim, key);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: { type: 'invalid_authentication_error', message: 'Invalid Authentication' } });
    }
  });

  it('accepts configured keys only', async () => {
    await withSim({ keys: { kimi: ['k1', 'k2'] } }, async (s) => {
      expect((await kimi({ model: 'kimi-latest', messages: user('hi') }, s, 'k2')).status).toBe(200);
      expect((await kimi({ model: 'kimi-latest', messages: user('hi') }, s, KIMI_KEY)).status).toBe(401);
    });
  });
});

describe('request validation', () => {
  it('missing messages: GLM 400 code 1213, Kimi 400 invalid_request_error', async () => {
    const g = await glm({ model: 'glm-4.5' });
    expect(g.status).toBe(400);
    expect(g.json.error.code).toBe('1213');
    const k = await kimi({ model: 'kimi-latest', messages: [] });
    expect(k.status).toBe(400);
    expect(k.json.error.type).toBe('invalid_request_error');
    expect(k.json.error.message).toMatch(/^Invalid request: /);
  });

  it('a body that is not JSON is a 400 for both', async () => {
    const g = await post(glmUrl('/chat/completions'), '{not json', GLM_KEY).then(reply);
    expect(g.status).toBe(400);
    expect(g.json.error.code).toBe('1210');
    const k = await post(kimiUrl('/chat/completions'), '{not json', KIMI_KEY).then(reply);
    expect(k.status).toBe(400);
    expect(k.json.error.type).toBe('invalid_request_error');
  });

  it('unknown model: GLM 400 code 1211, Kimi 404 resource_not_found_error', async () => {
    const g = await glm({ model: 'glm-9', messages: user('hi') });
    expect(g.status).toBe(400);
    expect(g.json.error.code).toBe('1211');
    const k = await kimi({ model: 'kimi-k9', messages: user('hi') });
    expect(k.status).toBe(404);
    expect(k.json.error).toEqual({
      type: 'resource_not_found_error',
      message: 'Not found the model kimi-k9 or Permission denied',
    });
  });

  it('temperature 1.5 is a 400 for both', async () => {
    const g = await glm({ model: 'glm-4.5', messages: user('hi'), temperature: 1.5 });
    expect(g.status).toBe(400);
    expect(g.json.error).toEqual({ code: '1214', message: 'temperature参数非法：限制数值范围[0,1]' });
    const k = await kimi({ model: 'kimi-latest', messages: user('hi'), temperature: 1.5 });
    expect(k.status).toBe(400);
    expect(k.json.error.type).toBe('invalid_request_error');
  });

  it('Kimi rejects empty content, n > 5 and more than 5 stop words; GLM checks max_tokens per model', async () => {
    expect((await kimi({ model: 'kimi-latest', messages: user('') })).status).toBe(400);
    expect((await kimi({ model: 'kimi-latest', messages: user('hi'), n: 6, temperature: 0.5 })).status).toBe(400);
    const stop = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect((await kimi({ model: 'kimi-latest', messages: user('hi'), stop })).status).toBe(400);
    const g = await glm({ model: 'glm-4.5-air', messages: user('hi'), max_tokens: 200_000 });
    expect(g.json.error).toEqual({ code: '1214', message: 'max_tokens参数非法：限制数值范围[1,98304]' });
  });

  it('Kimi context accounting: prompt over the window, then prompt + max_tokens over it', async () => {
    const long = 'x'.repeat(8192 * 4 + 8);
    const tooLong = await kimi({ model: 'moonshot-v1-8k', messages: user(long) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error).toEqual({ type: 'invalid_request_error', message: 'Input token length too long' });
    const limit = await kimi({ model: 'moonshot-v1-8k', messages: user('x'.repeat(4000 * 4)), max_tokens: 5000 });
    expect(limit.status).toBe(400);
    expect(limit.json.error.message).toBe('Your request exceeded model token limit : 8192');
    const fits = await kimi({ model: 'moonshot-v1-8k', messages: user('x'.repeat(4000 * 4)), max_tokens: 4000 });
    expect(fits.status).toBe(200);
  });

  it('GLM context overflow: 400 code 1210 by default, or finish_reason model_context_window_exceeded', async () => {
    const body = { model: 'glm-4-32b-0414-128k', messages: user('y'.repeat(131072 * 4 + 4)) };
    const err = await glm(body);
    expect(err.status).toBe(400);
    expect(err.json.error.code).toBe('1210');
    await withSim({ glmContextOverflow: 'finish' }, async (s) => {
      const res = await glm(body, s);
      expect(res.status).toBe(200);
      expect(res.json.choices[0].finish_reason).toBe('model_context_window_exceeded');
    });
  });

  it('a tool message must answer a tool_call_id issued earlier in the conversation', async () => {
    const messages = [...user('hi'), { role: 'tool', tool_call_id: 'call_nope', content: '42' }];
    const g = await glm({ model: 'glm-4.5', messages });
    expect(g.status).toBe(400);
    expect(g.json.error.code).toBe('1214');
    const k = await kimi({ model: 'kimi-latest', messages });
    expect(k.status).toBe(400);
    expect(k.json.error.message).toBe('Invalid request: tool_call_id call_nope is not found');
    const ok = await kimi({
      model: 'kimi-latest',
      messages: [
        ...user('hi'),
        {
          role: 'assistant',
          content: '',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '42' },
      ],
    });
    expect(ok.status).toBe(200);
  });

  it('Kimi strict thinking: assistant tool_calls without reasoning_content on a thinking model → 400', async () => {
    const assistant = {
      role: 'assistant',
      content: '',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    };
    const history = (a: Json): Json[] => [...user('hi'), a, { role: 'tool', tool_call_id: 'call_1', content: '1' }];
    const bad = await kimi({ model: 'kimi-k2-thinking', messages: history(assistant) });
    expect(bad.status).toBe(400);
    expect(bad.json.error.type).toBe('invalid_request_error');
    expect(bad.json.error.message).toContain('thinking is enabled but reasoning_content is missing');
    const good = await kimi({ model: 'kimi-k2-thinking', messages: history({ ...assistant, reasoning_content: 'r' }) });
    expect(good.status).toBe(200);
    expect((await kimi({ model: 'kimi-k2-turbo-preview', messages: history(assistant) })).status).toBe(200);
    await withSim({ kimiStrictThinking: false }, async (s) => {
      expect((await kimi({ model: 'kimi-k2-thinking', messages: history(assistant) }, s)).status).toBe(200);
    });
  });

  it('GLM bare web_search tool → 400; Kimi builtin_function only $web_search', async () => {
    const g = await glm({ model: 'glm-4.6', messages: user('hi'), tools: [{ type: 'web_search' }] });
    expect(g.status).toBe(400);
    expect(g.json.error.code).toBe('1214');
    const builtin = (name: string): Json => ({ type: 'builtin_function', function: { name } });
    const k = await kimi({ model: 'kimi-latest', messages: user('hi'), tools: [builtin('$code_runner')] });
    expect(k.status).toBe(400);
    expect(k.json.error.type).toBe('invalid_request_error');
    expect((await kimi({ model: 'kimi-latest', messages: user('hi'), tools: [builtin('$web_search')] })).status).toBe(
      200,
    );
  });

  it('records every request with headers and parsed body', async () => {
    const body = { model: 'glm-4.5', messages: user('record me') };
    await glm(body);
    await kimi({ model: 'nope', messages: user('x') });
    expect(sim.requests).toHaveLength(2);
    const [first, second] = sim.requests;
    expect(first).toMatchObject({ provider: 'glm', method: 'POST', path: '/api/paas/v4/chat/completions', body });
    expect(first.headers.authorization).toBe(`Bearer ${GLM_KEY}`);
    expect(first.at).toEqual(expect.any(Number));
    expect(second).toMatchObject({ provider: 'kimi', path: '/v1/chat/completions', body: { model: 'nope' } });
  });
});

describe('non-streaming responses', () => {
  it('GLM: no object, id == request_id, usage with cached tokens, directives stripped from the echo', async () => {
    const res = await glm({ model: 'glm-4.5', messages: user('hello there [[sim:delay=0]]') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    const b = res.json;
    expect(b.object).toBeUndefined();
    expect(b.id).toMatch(/^\d{14}[0-9a-f]{16}$/);
    expect(b.request_id).toBe(b.id);
    expect(b.model).toBe('glm-4.5');
    expect(b.choices).toEqual([
      { finish_reason: 'stop', index: 0, message: { content: 'SIM glm-4.5: hello there', role: 'assistant' } },
    ]);
    expect(b.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    expect(b.usage.total_tokens).toBe(b.usage.prompt_tokens + b.usage.completion_tokens);
    expect(b.usage.completion_tokens).toBe(4);
  });

  it('GLM echoes a caller-chosen request_id', async () => {
    const res = await glm({ model: 'glm-4.5', messages: user('hi'), request_id: 'my-req-1' });
    expect(res.json.id).toBe('my-req-1');
    expect(res.json.request_id).toBe('my-req-1');
  });

  it('Kimi: object chat.completion, cmpl- id, usage.cached_tokens, deterministic ids after reset', async () => {
    const body = { model: 'kimi-k2-turbo-preview', messages: user('hello') };
    const first = await kimi(body);
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(first.json).toEqual({
      id: expect.stringMatching(/^cmpl-[0-9a-f]{32}$/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'kimi-k2-turbo-preview',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'SIM kimi-k2-turbo-preview: hello' },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5, cached_tokens: 0 },
    });
    sim.reset();
    expect((await kimi(body)).json.id).toBe(first.json.id);
  });

  it('Kimi cached tokens can move to prompt_tokens_details', async () => {
    await withSim({ kimiCachedTokens: 'details' }, async (s) => {
      const res = await kimi({ model: 'kimi-latest', messages: user('hi') }, s);
      expect(res.json.usage.cached_tokens).toBeUndefined();
      expect(res.json.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    });
  });

  it('GLM reasons only with thinking enabled on a thinking model; Kimi thinking models always reason', async () => {
    const on = await glm({ model: 'glm-4.5', messages: user('why'), thinking: { type: 'enabled' } });
    expect(on.json.choices[0].message.reasoning_content).toContain('why');
    const off = await glm({ model: 'glm-4.5', messages: user('why'), thinking: { type: 'disabled' } });
    expect(off.json.choices[0].message.reasoning_content).toBeUndefined();
    const plain = await glm({ model: 'glm-4-32b-0414-128k', messages: user('why'), thinking: { type: 'enabled' } });
    expect(plain.json.choices[0].message.reasoning_content).toBeUndefined();
    const k = await kimi({ model: 'kimi-k2-thinking', messages: user('why') });
    expect(k.json.choices[0].message.reasoning_content).toEqual(expect.any(String));
    expect(k.json.usage.completion_tokens).toBeGreaterThan(3);
  });

  it('max_tokens truncates the answer with finish_reason length', async () => {
    const res = await kimi({ model: 'kimi-latest', messages: user('[[sim:tokens=10]]'), max_tokens: 4 });
    expect(res.json.choices[0].message.content).toBe('tok1 tok2 tok3 tok4 ');
    expect(res.json.choices[0].finish_reason).toBe('length');
    expect(res.json.usage.completion_tokens).toBe(4);
  });
});

describe('streaming responses', () => {
  it('GLM SSE: role in every delta, no object, no finish_reason until the last chunk with usage', async () => {
    const res = await post(
      glmUrl('/chat/completions'),
      { model: 'glm-4.6', messages: user('one two'), stream: true },
      GLM_KEY,
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream;charset=UTF-8');
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const { frames, done } = parseSse(text);
    expect(done).toBe(true);
    expect(frames.length).toBeGreaterThan(2);
    const ids = new Set(frames.map((f) => f.id));
    expect(ids.size).toBe(1);
    for (const f of frames) {
      expect(f.object).toBeUndefined();
      expect(f.model).toBe('glm-4.6');
      expect(f.choices[0].delta.role).toBe('assistant');
    }
    const last = frames[frames.length - 1];
    for (const f of frames.slice(0, -1)) {
      expect('finish_reason' in f.choices[0]).toBe(false);
      expect(f.usage).toBeUndefined();
    }
    expect(last.choices[0]).toEqual({ index: 0, finish_reason: 'stop', delta: { role: 'assistant', content: '' } });
    expect(last.usage).toEqual({
      prompt_tokens: 2,
      completion_tokens: 4,
      total_tokens: 6,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    expect(deltas(frames, 'content')).toBe('SIM glm-4.6: one two');
  });

  it('Kimi SSE: object chunk, first delta role + empty content, finish_reason null until the end, usage in choices[0]', async () => {
    const res = await post(
      kimiUrl('/chat/completions'),
      { model: 'kimi-latest', messages: user('one two'), stream: true },
      KIMI_KEY,
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { frames, done } = parseSse(await res.text());
    expect(done).toBe(true);
    expect(frames[0].choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null });
    for (const f of frames) {
      expect(f.object).toBe('chat.completion.chunk');
      expect(f.id).toMatch(/^cmpl-/);
    }
    for (const f of frames.slice(0, -1)) expect(f.choices[0].finish_reason).toBeNull();
    const last = frames[frames.length - 1];
    expect(last.choices[0]).toEqual({
      index: 0,
      delta: {},
      finish_reason: 'stop',
      usage: { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6, cached_tokens: 0 },
    });
    expect(last.usage).toBeUndefined();
    expect(deltas(frames, 'content')).toBe('SIM kimi-latest: one two');
  });

  it.each([
    ['top', false, true],
    ['both', true, true],
  ] as const)('Kimi stream usage mode %s', async (mode, inChoice, topLevel) => {
    await withSim({ kimiStreamUsage: mode }, async (s) => {
      const body = {
        model: 'kimi-latest',
        messages: user('hi'),
        stream: true,
        stream_options: { include_usage: true },
      };
      const { frames } = parseSse(await post(kimiUrl('/chat/completions', s), body, KIMI_KEY).then((r) => r.text()));
      const last = frames[frames.length - 1];
      expect(last.choices[0].usage !== undefined).toBe(inChoice);
      expect(last.usage !== undefined).toBe(topLevel);
      if (topLevel) expect(last.usage.total_tokens).toBe(last.usage.prompt_tokens + last.usage.completion_tokens);
    });
  });

  it('thinking models stream reasoning_content before content (GLM with thinking enabled, Kimi thinking model)', async () => {
    const cases: Array<[string, Json, string]> = [
      [glmUrl('/chat/completions'), { model: 'glm-4.5', thinking: { type: 'enabled' } }, GLM_KEY],
      [kimiUrl('/chat/completions'), { model: 'kimi-k2-thinking' }, KIMI_KEY],
    ];
    for (const [url, extra, key] of cases) {
      const text = await post(url, { ...extra, messages: user('ponder this'), stream: true }, key).then((r) =>
        r.text(),
      );
      const { frames } = parseSse(text);
      const kinds = frames
        .map((f) => f.choices[0].delta)
        .map((d) => (d.reasoning_content ? 'r' : d.content ? 'c' : ''))
        .filter((k) => k !== '')
        .join('');
      expect(kinds).toMatch(/^r+c+$/);
      expect(deltas(frames, 'reasoning_content')).toContain('ponder this');
    }
  });

  it('tool calls stream whole on GLM, fragmented with tool_stream, fragmented on Kimi', async () => {
    const args = '{"location":"Florence, Italy"}';
    const call = { id: 'call_w', name: 'weather', arguments: args };
    sim.script('glm', { toolCalls: [call] }, { toolCalls: [call] });
    sim.script('kimi', { toolCalls: [call] });
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
    const run = async (url: string, key: string, extra: Json): Promise<WireBody[]> => {
      const body = { messages: user('weather?'), tools, stream: true, ...extra };
      return parseSse(await post(url, body, key).then((r) => r.text())).frames;
    };
    const whole = await run(glmUrl('/chat/completions'), GLM_KEY, { model: 'glm-4.6' });
    const toolFrames = whole.filter((f) => f.choices[0].delta.tool_calls);
    expect(toolFrames).toHaveLength(1);
    expect(toolFrames[0].choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      delta: {
        tool_calls: [{ id: 'call_w', index: 0, type: 'function', function: { name: 'weather', arguments: args } }],
      },
    });
    expect(whole[whole.length - 1].choices[0].finish_reason).toBe('tool_calls');
    for (const frames of [
      await run(glmUrl('/chat/completions'), GLM_KEY, { model: 'glm-4.6', tool_stream: true }),
      await run(kimiUrl('/chat/completions'), KIMI_KEY, { model: 'kimi-latest' }),
    ]) {
      const pieces = frames.flatMap((f) => f.choices[0].delta.tool_calls ?? []);
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces[0]).toMatchObject({ id: 'call_w', index: 0, function: { name: 'weather' } });
      expect(pieces.map((p) => p.function.arguments).join('')).toBe(args);
      expect(frames[frames.length - 1].choices[0].finish_reason).toBe('tool_calls');
    }
  });
});

describe('web search', () => {
  const glmSearchTool = { type: 'web_search', web_search: { enable: true, search_engine: 'search_pro_jina' } };

  it('GLM: top-level web_search array and a [ref_1] citation in one reply', async () => {
    const res = await glm({ model: 'glm-4.6', messages: user('latest news'), tools: [glmSearchTool] });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].finish_reason).toBe('stop');
    expect(res.json.choices[0].message.content).toContain('[ref_1]');
    expect(res.json.web_search![0]).toEqual({
      title: expect.any(String),
      content: expect.any(String),
      link: expect.stringMatching(/^https:\/\//),
      media: expect.any(String),
      icon: expect.any(String),
      refer: 'ref_1',
      publish_date: expect.any(String),
    });
  });

  it('GLM streaming attaches web_search to the first chunk', async () => {
    const body = { model: 'glm-4.6', messages: user('latest news'), tools: [glmSearchTool], stream: true };
    const { frames } = parseSse(await post(glmUrl('/chat/completions'), body, GLM_KEY).then((r) => r.text()));
    expect(frames[0].web_search![0].refer).toBe('ref_1');
    expect(frames.slice(1).every((f) => f.web_search === undefined)).toBe(true);
    expect(deltas(frames, 'content')).toContain('[ref_1]');
  });

  it('GLM standalone /web_search API', async () => {
    const res = await post(glmUrl('/web_search'), { search_query: 'nestjs', count: 3 }, GLM_KEY).then(reply);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: expect.any(String), created: expect.any(Number) });
    expect(res.json.search_result).toHaveLength(3);
    expect(res.json.search_result[2].refer).toBe('ref_3');
    const missing = await post(glmUrl('/web_search'), { count: 3 }, GLM_KEY).then(reply);
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe('1213');
  });

  describe('Kimi $web_search round trip', () => {
    const tools = [{ type: 'builtin_function', function: { name: '$web_search' } }];
    const question = user('who won? [[sim:search]]');

    async function firstReply(): Promise<{ message: WireMessage; call: WireToolCall; n: number; prompt: number }> {
      const res = await kimi({ model: 'kimi-k2-turbo-preview', messages: question, tools });
      expect(res.status).toBe(200);
      const choice = res.json.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      const call = choice.message.tool_calls![0];
      expect(call).toMatchObject({ id: expect.stringMatching(/^call_/), type: 'builtin_function' });
      expect(call.function.name).toBe('$web_search');
      const args = JSON.parse(call.function.arguments) as { usage: { total_tokens: number } };
      expect(args).toEqual({
        search_result: { search_id: expect.stringMatching(/^sim-/) },
        usage: { total_tokens: expect.any(Number) },
      });
      return { message: choice.message, call, n: args.usage.total_tokens, prompt: res.json.usage.prompt_tokens };
    }

    it('a correct echo gets the grounded answer with the search tokens in prompt_tokens, billed once', async () => {
      const { message, call, n, prompt } = await firstReply();
      const echo = {
        role: 'tool',
        tool_call_id: call.id,
        name: '$web_search',
        content: JSON.stringify(JSON.parse(call.function.arguments)),
      };
      const res = await kimi({ model: 'kimi-k2-turbo-preview', messages: [...question, message, echo], tools });
      expect(res.status).toBe(200);
      expect(res.json.choices[0].finish_reason).toBe('stop');
      expect(res.json.choices[0].message.content).toContain('SIM kimi-k2-turbo-preview: who won?');
      expect(res.json.usage.prompt_tokens).toBeGreaterThanOrEqual(prompt + n);
      expect(res.json.usage.total_tokens).toBe(res.json.usage.prompt_tokens + res.json.usage.completion_tokens);
      expect(sim.billedSearches).toBe(1);
    });

    it('a wrong or missing echo is a 400 invalid_request_error', async () => {
      const { message, call } = await firstReply();
      const wrong = { role: 'tool', tool_call_id: call.id, name: '$web_search', content: '{"search_result":{}}' };
      const bad = await kimi({ model: 'kimi-k2-turbo-preview', messages: [...question, message, wrong], tools });
      expect(bad.status).toBe(400);
      expect(bad.json.error.type).toBe('invalid_request_error');
      const missing = await kimi({ model: 'kimi-k2-turbo-preview', messages: [...question, message], tools });
      expect(missing.status).toBe(400);
      const altered = { ...message, tool_calls: [{ ...call, function: { ...call.function, arguments: '{}' } }] };
      const echo = { role: 'tool', tool_call_id: call.id, content: '{}' };
      const tampered = await kimi({ model: 'kimi-k2-turbo-preview', messages: [...question, altered, echo], tools });
      expect(tampered.status).toBe(400);
      expect(sim.billedSearches).toBe(1);
    });

    it('does not search without the $web_search tool', async () => {
      const res = await kimi({ model: 'kimi-k2-turbo-preview', messages: question });
      expect(res.json.choices[0].finish_reason).toBe('stop');
      expect(sim.billedSearches).toBe(0);
    });
  });
});

describe('directives', () => {
  it('delay waits before headers even at speed 0', async () => {
    const started = Date.now();
    const res = await glm({ model: 'glm-4.5', messages: user('slow [[sim:delay=150]]') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.json.choices[0].message.content).toBe('SIM glm-4.5: slow');
  });

  it('stall never answers; a client abort is counted and frees the request', async () => {
    const controller = new AbortController();
    const pending = post(
      kimiUrl('/chat/completions'),
      { model: 'kimi-latest', messages: user('[[sim:stall]]') },
      KIMI_KEY,
      controller.signal,
    );
    const outcome = pending.then(
      () => 'answered',
      () => 'aborted',
    );
    await waitFor(() => sim.openRequests === 1, 'the stalled request');
    setTimeout(() => controller.abort(), 100);
    expect(await outcome).toBe('aborted');
    await waitFor(() => sim.abortedRequests === 1 && sim.openRequests === 0, 'abort accounting');
  });

  it('error=429|500|503 fail every attempt with provider bodies', async () => {
    const expectations: Array<[number, Json, Json]> = [
      [429, { code: '1302' }, { type: 'rate_limit_reached_error' }],
      [500, { code: '500', message: 'Internal Error' }, { type: 'server_error' }],
      [503, { code: '1305' }, { type: 'engine_overloaded_error' }],
    ];
    for (const [status, glmError, kimiError] of expectations) {
      for (let attempt = 0; attempt < 2; attempt++) {
        const g = await glm({ model: 'glm-4.5', messages: user(`x [[sim:error=${status}]]`) });
        expect(g.status).toBe(status);
        expect(g.json.error).toMatchObject(glmError);
        const k = await kimi({ model: 'kimi-latest', messages: user(`x [[sim:error=${status}]]`) });
        expect(k.status).toBe(status);
        expect(k.json.error).toMatchObject(kimiError);
      }
    }
    const k429 = await kimi({ model: 'kimi-latest', messages: user('[[sim:error=429]]') });
    expect(k429.json.error.message).toMatch(/please try again after 1 seconds$/);
    expect(k429.headers.get('retry-after')).toBeNull();
  });

  it('error=429:2 fails the first two attempts of the same conversation, then succeeds', async () => {
    const body = { model: 'glm-4.5', messages: user('retry me [[sim:error=429:2]]') };
    expect((await glm(body)).status).toBe(429);
    expect((await glm({ ...body, messages: user('other [[sim:error=429:2]]') })).status).toBe(429);
    expect((await glm(body)).status).toBe(429);
    const ok = await glm(body);
    expect(ok.status).toBe(200);
    expect(ok.json.choices[0].message.content).toBe('SIM glm-4.5: retry me');
    const k = { model: 'kimi-latest', messages: user('k [[sim:error=503:1]]') };
    expect((await kimi(k)).status).toBe(503);
    expect((await kimi(k)).status).toBe(200);
  });

  it('quota and overloaded name the terminal and retryable 429 variants', async () => {
    expect((await glm({ model: 'glm-4.5', messages: user('[[sim:error=quota]]') })).json.error.code).toBe('1113');
    const k = await kimi({ model: 'kimi-latest', messages: user('[[sim:error=quota]]') });
    expect(k.status).toBe(429);
    expect(k.json.error.type).toBe('exceeded_current_quota_error');
    const o = await kimi({ model: 'kimi-latest', messages: user('[[sim:error=overloaded]]') });
    expect(o.status).toBe(429);
    expect(o.json.error.type).toBe('engine_overloaded_error');
  });

  it('drop cuts a stream after a couple of chunks and a non-stream request before any byte', async () => {
    const res = await post(
      glmUrl('/chat/completions'),
      { model: 'glm-4.5', messages: user('a b c d e f [[sim:drop]]'), stream: true },
      GLM_KEY,
    );
    expect(res.status).toBe(200);
    const partial = await readUntilEnd(res);
    expect(partial.failed).toBe(true);
    expect(parseSse(partial.text).frames).toHaveLength(2);
    expect(partial.text).not.toContain('[DONE]');
    await expect(
      post(kimiUrl('/chat/completions'), { model: 'kimi-latest', messages: user('[[sim:drop]]') }, KIMI_KEY),
    ).rejects.toThrow();
    await waitFor(() => sim.openRequests === 0, 'dropped requests to close');
    expect(sim.abortedRequests).toBe(0);
  });

  it('times=N limits any fault to the first N attempts', async () => {
    const body = { model: 'kimi-latest', messages: user('flaky [[sim:drop]] [[sim:times=1]]') };
    await expect(post(kimiUrl('/chat/completions'), body, KIMI_KEY)).rejects.toThrow();
    expect((await kimi(body)).status).toBe(200);
  });

  it('tokens=N gives exactly N completion tokens', async () => {
    const res = await kimi({ model: 'kimi-latest', messages: user('[[sim:tokens=7]]') });
    expect(res.json.usage.completion_tokens).toBe(7);
    expect(res.json.choices[0].message.content!.split(' ')).toHaveLength(7);
    const body = { model: 'glm-4.5', messages: user('[[sim:tokens=5]]'), stream: true };
    const { frames } = parseSse(await post(glmUrl('/chat/completions'), body, GLM_KEY).then((r) => r.text()));
    expect(frames.filter((f) => f.choices[0].delta.content)).toHaveLength(5);
    expect(frames[frames.length - 1].usage.completion_tokens).toBe(5);
  });

  it('stall_after=K streams K frames, then goes silent until the client aborts', async () => {
    const body = { model: 'kimi-latest', messages: user('a b c d e f [[sim:stall_after=2]]'), stream: true };
    const text = await readThenAbort(
      kimiUrl('/chat/completions'),
      body,
      KIMI_KEY,
      (t) => parseSse(t).frames.length >= 2,
    );
    expect(parseSse(text).frames).toHaveLength(2);
    expect(text).not.toContain('[DONE]');
    await waitFor(() => sim.abortedRequests === 1 && sim.openRequests === 0, 'abort accounting');
  });

  it('retry_after=S adds Retry-After and Kimi says "after S seconds"', async () => {
    const k = await kimi({ model: 'kimi-latest', messages: user('[[sim:error=429]] [[sim:retry_after=7]]') });
    expect(k.headers.get('retry-after')).toBe('7');
    expect(k.json.error.message).toMatch(/please try again after 7 seconds$/);
    const g = await glm({ model: 'glm-4.5', messages: user('[[sim:error=503]] [[sim:retry_after=3]]') });
    expect(g.headers.get('retry-after')).toBe('3');
  });

  it('filter: GLM 400 code 1301, GLM stream finish sensitive, =input/=output variants, Kimi 400 content_filter', async () => {
    const g = await glm({ model: 'glm-4.5', messages: user('bad [[sim:filter]]') });
    expect(g.status).toBe(400);
    expect(g.json.error.code).toBe('1301');
    const body = { model: 'glm-4.5', messages: user('bad words here [[sim:filter]]'), stream: true };
    const { frames } = parseSse(await post(glmUrl('/chat/completions'), body, GLM_KEY).then((r) => r.text()));
    expect(frames[frames.length - 1].choices[0].finish_reason).toBe('sensitive');
    const input = await post(
      glmUrl('/chat/completions'),
      { ...body, messages: user('x [[sim:filter=input]]') },
      GLM_KEY,
    );
    expect(input.status).toBe(400);
    expect(((await input.json()) as WireBody).error.code).toBe('1301');
    const output = await glm({ model: 'glm-4.5', messages: user('bad words here [[sim:filter=output]]') });
    expect(output.status).toBe(200);
    expect(output.json.choices[0]).toMatchObject({ finish_reason: 'sensitive', message: { content: 'SIM glm-4.5: ' } });
    const k = await kimi({ model: 'kimi-latest', messages: user('bad [[sim:filter]]'), stream: true });
    expect(k.status).toBe(400);
    expect(k.json.error).toEqual({
      type: 'content_filter',
      message: 'The request was rejected because it was considered high risk',
    });
  });

  it.each(['sensitive', 'network_error', 'length'])('finish=%s arrives with HTTP 200', async (reason) => {
    const g = await glm({ model: 'glm-4.5', messages: user(`x [[sim:finish=${reason}]]`) });
    expect(g.status).toBe(200);
    expect(g.json.choices[0].finish_reason).toBe(reason);
    const body = { model: 'kimi-latest', messages: user(`x [[sim:finish=${reason}]]`), stream: true };
    const { frames } = parseSse(await post(kimiUrl('/chat/completions'), body, KIMI_KEY).then((r) => r.text()));
    expect(frames[frames.length - 1].choices[0].finish_reason).toBe(reason);
  });

  it('html answers 502 with a gateway page', async () => {
    const res = await kimi({ model: 'kimi-latest', messages: user('[[sim:html]]') });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(res.text).toContain('<h1>502 Bad Gateway</h1>');
  });

  it('malformed puts a broken JSON frame in a stream and cuts a JSON body', async () => {
    const body = { model: 'glm-4.5', messages: user('hi [[sim:malformed]]'), stream: true };
    const sse = parseSse(await post(glmUrl('/chat/completions'), body, GLM_KEY).then((r) => r.text()));
    expect(sse.broken).toHaveLength(1);
    expect(sse.done).toBe(true);
    const res = await post(
      kimiUrl('/chat/completions'),
      { model: 'kimi-latest', messages: user('[[sim:malformed]]') },
      KIMI_KEY,
    );
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow();
  });

  it('no_finish ends a stream with [DONE] but no finish chunk', async () => {
    const body = { model: 'kimi-latest', messages: user('hi [[sim:no_finish]]'), stream: true };
    const { frames, done } = parseSse(await post(kimiUrl('/chat/completions'), body, KIMI_KEY).then((r) => r.text()));
    expect(done).toBe(true);
    expect(frames.every((f) => f.choices[0].finish_reason === null)).toBe(true);
  });

  it('an unknown directive is a loud provider 400', async () => {
    const res = await kimi({ model: 'kimi-latest', messages: user('[[sim:explode]]') });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('[[sim:explode]]');
  });

  it('only the last user message is read for directives', async () => {
    const messages = [...user('old [[sim:error=500]]'), { role: 'assistant', content: 'ok' }, ...user('new')];
    const res = await glm({ model: 'glm-4.5', messages });
    expect(res.status).toBe(200);
    expect(res.json.choices[0].message.content).toBe('SIM glm-4.5: new');
  });
});

describe('scripted responses', () => {
  it('are consumed in order before the echo responder, optionally per model', async () => {
    sim.script(
      'kimi',
      { model: 'kimi-k2-thinking', content: 'for thinking', reasoning: 'hmm' },
      { content: 'first', usage: { prompt_tokens: 10, completion_tokens: 5 } },
    );
    const a = await kimi({ model: 'kimi-latest', messages: user('x') });
    expect(a.json.choices[0].message.content).toBe('first');
    expect(a.json.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    const b = await kimi({ model: 'kimi-latest', messages: user('x') });
    expect(b.json.choices[0].message.content).toBe('SIM kimi-latest: x');
    const c = await kimi({ model: 'kimi-k2-thinking', messages: user('x') });
    expect(c.json.choices[0].message).toMatchObject({ content: 'for thinking', reasoning_content: 'hmm' });
  });

  it('script tool calls with string arguments and a finish reason', async () => {
    sim.script('glm', { toolCalls: [{ name: 'lookup', arguments: '{"q":1}' }], headers: { 'x-sim': 'yes' } });
    const res = await glm({ model: 'glm-4.6', messages: user('x') });
    expect(res.headers.get('x-sim')).toBe('yes');
    expect(res.json.choices[0].finish_reason).toBe('tool_calls');
    expect(res.json.choices[0].message.tool_calls).toEqual([
      { id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'lookup', arguments: '{"q":1}' } },
    ]);
  });

  it('script errors: a JSON errorBody, an HTML rawBody, or the provider default body', async () => {
    sim.script(
      'glm',
      { status: 429, errorBody: { error: { code: '1113', message: 'Insufficient balance' } } },
      { status: 502, rawBody: '<html>bad gateway</html>' },
      { status: 500 },
    );
    const a = await glm({ model: 'glm-4.5', messages: user('x') });
    expect(a.status).toBe(429);
    expect(a.json.error.code).toBe('1113');
    const b = await glm({ model: 'glm-4.5', messages: user('x') });
    expect(b.status).toBe(502);
    expect(b.headers.get('content-type')).toBe('text/html');
    expect(b.text).toBe('<html>bad gateway</html>');
    const c = await glm({ model: 'glm-4.5', messages: user('x') });
    expect(c.json).toEqual({ error: { code: '500', message: 'Internal Error' } });
  });

  it('a scripted Kimi $web_search call is billed and must be echoed', async () => {
    const args = '{"search_result":{"search_id":"sim-s"},"usage":{"total_tokens":500}}';
    sim.script('kimi', { toolCalls: [{ id: 'call_s', name: '$web_search', arguments: args }] });
    const tools = [{ type: 'builtin_function', function: { name: '$web_search' } }];
    const first = await kimi({ model: 'kimi-latest', messages: user('q'), tools });
    const message = first.json.choices[0].message;
    expect(message.tool_calls![0].type).toBe('builtin_function');
    expect(sim.billedSearches).toBe(1);
    const echo = { role: 'tool', tool_call_id: 'call_s', name: '$web_search', content: args };
    const second = await kimi({ model: 'kimi-latest', messages: [...user('q'), message, echo], tools });
    expect(second.status).toBe(200);
    expect(second.json.usage.prompt_tokens).toBeGreaterThan(500);
  });
});

describe('limits and latency', () => {
  it('Kimi concurrency 1: a second concurrent request gets 429 rate_limit_reached_error', async () => {
    await withSim({ limits: { kimi: { concurrency: 1 } } }, async (s) => {
      const slow = kimi({ model: 'kimi-latest', messages: user('[[sim:delay=300]]') }, s);
      await waitFor(() => s.requests.length === 1, 'the first request to arrive');
      const second = await kimi({ model: 'kimi-latest', messages: user('second') }, s);
      expect(second.status).toBe(429);
      expect(second.json.error.type).toBe('rate_limit_reached_error');
      expect(second.json.error.message).toMatch(/max concurrency: 1, please try again after \d+ seconds$/);
      expect(second.headers.get('retry-after')).toBeNull();
      expect((await slow).status).toBe(200);
      await waitFor(() => s.openRequests === 0, 'the slow request to finish');
      expect((await kimi({ model: 'kimi-latest', messages: user('third') }, s)).status).toBe(200);
    });
  });

  it('Kimi RPM 3: the fourth request in a minute gets 429, with optional rate-limit headers', async () => {
    await withSim({ limits: { kimi: { rpm: 3 } }, rateLimitHeaders: true }, async (s) => {
      for (let i = 0; i < 3; i++)
        expect((await kimi({ model: 'kimi-latest', messages: user('x') }, s)).status).toBe(200);
      const fourth = await kimi({ model: 'kimi-latest', messages: user('x') }, s);
      expect(fourth.status).toBe(429);
      expect(fourth.json.error.message).toMatch(/max RPM: 3, please try again after \d+ seconds$/);
      expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(fourth.headers.get('x-ratelimit-limit')).toBe('3');
      expect(fourth.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(fourth.headers.get('x-ratelimit-reset')).not.toBeNull();
    });
  });

  it('GLM concurrency cap answers 429 code 1302', async () => {
    await withSim({ limits: { glm: { concurrency: 1 } } }, async (s) => {
      const slow = glm({ model: 'glm-4.5', messages: user('[[sim:delay=300]]') }, s);
      await waitFor(() => s.requests.length === 1, 'the first request to arrive');
      const second = await glm({ model: 'glm-4.5', messages: user('second') }, s);
      expect(second.status).toBe(429);
      expect(second.json.error.code).toBe('1302');
      expect((await slow).status).toBe(200);
    });
  });

  it('latencies scale with speed and stop on client abort', async () => {
    await withSim({ speed: 1, latency: { ttftMs: 120, interTokenMs: 0, thinkingMs: 0, webSearchMs: 0 } }, async (s) => {
      const started = Date.now();
      expect((await kimi({ model: 'kimi-latest', messages: user('x') }, s)).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    });
    await withSim({ speed: 1, latency: { ttftMs: 60_000 } }, async (s) => {
      const controller = new AbortController();
      const body = { model: 'glm-4.5', messages: user('x'), stream: true };
      const res = await post(glmUrl('/chat/completions', s), body, GLM_KEY, controller.signal);
      expect(res.status).toBe(200);
      setTimeout(() => controller.abort(), 100);
      await expect(res.text()).rejects.toThrow();
      await waitFor(() => s.abortedRequests === 1 && s.openRequests === 0, 'abort accounting');
    });
  });

  it('stop() returns promptly with a stalled request open', async () => {
    const s = new ProviderSimulator({ speed: 0 });
    await s.start();
    const pending = kimi({ model: 'kimi-latest', messages: user('[[sim:stall]]') }, s).then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor(() => s.openRequests === 1, 'the stalled request');
    const started = Date.now();
    await s.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await pending).toBe('cut');
  });
});
