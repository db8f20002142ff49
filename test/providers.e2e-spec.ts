import { Logger } from '@nestjs/common';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Server, Socket } from 'node:net';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { simulatorEnv } from './support/simulator-env';
import { Frame, TestClient, toolOutput } from './support/ws-client';
import { waitFor } from './support/wait';

interface ErrorBody {
  code: string;
  message: string;
  provider?: string;
  status?: number | null;
  provider_code?: string | null;
  retry_after?: number;
  details?: Record<string, unknown>;
}

function chatRequests(sim: ProviderSimulator, provider: 'glm' | 'kimi') {
  return sim.requests.filter((r) => r.provider === provider && r.path.endsWith('/chat/completions'));
}

describe('GLM and Kimi providers against the simulator over real HTTP', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  const daemons: TestDaemon[] = [];
  const clients: TestClient[] = [];

  async function daemon(env: Record<string, string> = {}): Promise<TestDaemon> {
    const d = await startTestDaemon({
      ...simulatorEnv(sim),
      EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'chat,thinkdeep,kimi_chat_with_tools,glm_web_search',
      ...env,
    });
    daemons.push(d);
    return d;
  }
  async function client(d: TestDaemon): Promise<TestClient> {
    const c = await TestClient.ready(d.url);
    clients.push(c);
    return c;
  }
  async function call(c: TestClient, name: string, args: Record<string, unknown>, timeoutMs = 8000): Promise<Frame[]> {
    const id = `r-${Math.random().toString(36).slice(2)}`;
    c.send({ op: 'call_tool', request_id: id, name, arguments: args });
    return c.callFrames(id, timeoutMs);
  }
  const errorOf = (frames: Frame[]) => frames.at(-1)!.error as ErrorBody;
  const ackOf = (frames: Frame[]) => frames.find((f) => f.op === 'call_tool_ack')!;

  let main: TestDaemon;
  let c: TestClient;
  beforeAll(async () => {
    await sim.start(0, '127.0.0.1');
    main = await daemon();
  });
  beforeEach(async () => {
    sim.reset();
    c = await client(main);
  });
  afterEach(() => {
    for (const x of clients.splice(0)) x.close();
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    for (const d of daemons) await d.close();
    await sim.stop();
  });

  it('chat with model auto streams from GLM and returns a ToolOutput with provider, model and usage', async () => {
    const frames = await call(c, 'chat', { prompt: 'hello there' });
    const out = toolOutput(frames.at(-1)!);
    expect(out.status).toBe('success');
    expect(out.content).toContain('hello there');
    expect(out.metadata).toMatchObject({ provider: 'GLM', model: 'glm-4.5-flash', thinking: false, attempts: 1 });
    expect((out.metadata.usage as { total_tokens: number }).total_tokens).toBeGreaterThan(0);
    expect(ackOf(frames).timeout).toBe(120);
    const [req] = chatRequests(sim, 'glm');
    expect(req.headers.authorization).toBe('Bearer sim-glm-key');
    expect(req.body).toMatchObject({ model: 'glm-4.5-flash', stream: true, thinking: { type: 'disabled' } });
  });

  it('chat with thinking_mode high uses the GLM quality model with thinking enabled and returns its reasoning', async () => {
    const frames = await call(c, 'chat', { prompt: 'think', thinking_mode: 'high' });
    const out = toolOutput(frames.at(-1)!);
    expect(out.metadata).toMatchObject({ provider: 'GLM', model: 'glm-4.6', thinking: true });
    expect(typeof out.metadata.reasoning).toBe('string');
    expect(ackOf(frames).timeout).toBe(240);
    expect(chatRequests(sim, 'glm')[0].body).toMatchObject({ thinking: { type: 'enabled' } });
  });

  it('sends thinkdeep to the Kimi thinking model at temperature 1.0 and returns its reasoning_content', async () => {
    const out = toolOutput((await call(c, 'thinkdeep', { prompt: 'why?', findings: 'none yet' })).at(-1)!);
    expect(out.metadata).toMatchObject({ provider: 'KIMI', model: 'kimi-k2-thinking', thinking: true });
    expect(typeof out.metadata.reasoning).toBe('string');
    expect(chatRequests(sim, 'kimi')[0].body).toMatchObject({
      model: 'kimi-k2-thinking',
      temperature: 1,
      stream: true,
    });
  });

  it('selects each timeout kind and logs each distinct selection once, at info', async () => {
    // A daemon of its own: the shared one has already made (and logged) some of these selections.
    const c = await client(await daemon());
    const log = jest.spyOn(Logger.prototype, 'log');
    const debug = jest.spyOn(Logger.prototype, 'debug');
    const cases: Array<[string, Record<string, unknown>, number]> = [
      ['chat', { prompt: 'a' }, 120],
      ['chat', { prompt: 'a', use_websearch: true }, 180],
      ['chat', { prompt: 'a', thinking_mode: 'max' }, 240],
      ['chat', { prompt: 'a', thinking_mode: 'max', use_websearch: true }, 300],
      ['chat', { prompt: 'a', model: 'kimi-k2-turbo-preview' }, 240],
      ['kimi_chat_with_tools', { prompt: 'a' }, 300],
      ['thinkdeep', { prompt: 'a' }, 360],
      ['thinkdeep', { prompt: 'a', use_websearch: true }, 420],
    ];
    for (const [tool, args, secs] of cases) {
      expect([tool, args, ackOf(await call(c, tool, args)).timeout]).toEqual([tool, args, secs]);
    }
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^Kimi timeout: 420s \(web=true, thinking=true\)/));
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^GLM timeout: 120s \(web=false, thinking=false\)/));
    // The same selection again: the ack still carries it, no level of the log repeats it.
    const glmBase = /^GLM timeout: 120s \(web=false, thinking=false\) for glm-4.5-flash$/;
    const lines = (spy: jest.SpyInstance) => spy.mock.calls.filter(([m]) => typeof m === 'string' && glmBase.test(m));
    expect(ackOf(await call(c, 'chat', { prompt: 'again' })).timeout).toBe(120);
    expect(ackOf(await call(c, 'chat', { prompt: 'and again' })).timeout).toBe(120);
    expect(lines(log)).toHaveLength(1);
    expect(lines(debug)).toHaveLength(0);
  });

  it('ends a stalled provider call in TIMEOUT at its 3 s budget even with retries configured', async () => {
    const d = await daemon({ KIMI_TIMEOUT_SECS: '3', EXAI_PROVIDER_MAX_RETRIES: '2' });
    const k = await client(d);
    const started = Date.now();
    const frames = await call(
      k,
      'kimi_chat_with_tools',
      { prompt: '[[sim:stall]] anyone?', use_websearch: false },
      8000,
    );
    const elapsed = Date.now() - started;
    expect(errorOf(frames)).toEqual({ code: 'TIMEOUT', message: 'call_tool exceeded 3s' });
    expect(elapsed).toBeGreaterThanOrEqual(2500);
    expect(elapsed).toBeLessThanOrEqual(3500);
    expect(chatRequests(sim, 'kimi')).toHaveLength(1);
    await waitFor(() => sim.openRequests === 0 && sim.abortedRequests === 1);
  });

  it('retries two 429s and returns one success', async () => {
    const frames = await call(c, 'chat', { prompt: '[[sim:error=429:2]] retry me' });
    const out = toolOutput(frames.at(-1)!);
    expect(out.content).toContain('retry me');
    expect(out.metadata.attempts).toBe(3);
    expect(chatRequests(sim, 'glm')).toHaveLength(3);
  });

  it('honours Kimi\'s "try again after N seconds" text between retries', async () => {
    const started = Date.now();
    const frames = await call(c, 'kimi_chat_with_tools', { prompt: '[[sim:error=429:1]] soon', use_websearch: false });
    expect(toolOutput(frames.at(-1)!).metadata.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not wait out a Retry-After longer than the budget: PROVIDER_UNAVAILABLE with retry_after at once', async () => {
    const d = await daemon({ GLM_TIMEOUT_SECS: '10' });
    const g = await client(d);
    const started = Date.now();
    const frames = await call(g, 'chat', { prompt: '[[sim:error=429]] [[sim:retry_after=60]] busy' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errorOf(frames)).toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      provider: 'GLM',
      status: 429,
      provider_code: '1302',
      retry_after: 60,
    });
    expect(chatRequests(sim, 'glm')).toHaveLength(1);
  });

  it('opens the circuit at its threshold, fails fast while open, and recovers after the cooldown', async () => {
    const d = await daemon({
      EXAI_CIRCUIT_FAILURE_THRESHOLD: '2',
      EXAI_CIRCUIT_COOLDOWN_SECS: '1',
      EXAI_PROVIDER_MAX_RETRIES: '0',
    });
    const g = await client(d);
    for (let i = 0; i < 2; i++) {
      expect(errorOf(await call(g, 'chat', { prompt: `[[sim:error=503]] down ${i}` }))).toMatchObject({
        code: 'PROVIDER_UNAVAILABLE',
      });
    }
    const health = (await (await fetch(`${d.httpUrl}/health`)).json()) as {
      details: { providers: { providers: Record<string, { circuit: string; lastError?: { message: string } }> } };
    };
    expect(health.details.providers.providers.GLM.circuit).toBe('open');
    expect(health.details.providers.providers.GLM.lastError?.message).toMatch(/503/);
    const before = chatRequests(sim, 'glm').length;
    const fast = errorOf(await call(g, 'chat', { prompt: 'while open', model: 'glm-4.5-flash' }));
    expect(fast).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'GLM' });
    expect(fast.message).toMatch(/circuit is open/);
    expect(fast.retry_after).toBeGreaterThanOrEqual(1);
    expect(chatRequests(sim, 'glm')).toHaveLength(before);
    // model auto falls back to Kimi's speed model while GLM's circuit is open.
    const fallback = toolOutput((await call(g, 'chat', { prompt: 'fallback please' })).at(-1)!);
    expect(fallback.metadata).toMatchObject({ provider: 'KIMI', model: 'kimi-k2-turbo-preview' });
    // The cooldown over, the circuit lets one trial call through.
    await waitFor(
      async () =>
        ((await (await fetch(`${d.httpUrl}/health`)).json()) as typeof health).details.providers.providers.GLM
          .circuit === 'half_open',
      10_000,
      'the GLM circuit to go half-open',
    );
    const recovered = toolOutput((await call(g, 'chat', { prompt: 'recovered' })).at(-1)!);
    expect(recovered.content).toContain('recovered');
    expect(recovered.metadata.provider).toBe('GLM');
    const after = (await (await fetch(`${d.httpUrl}/health`)).json()) as typeof health;
    expect(after.details.providers.providers.GLM.circuit).toBe('closed');
  });

  it("completes Kimi's $web_search round trip through the simulator's strict echo check", async () => {
    const frames = await call(c, 'kimi_chat_with_tools', { prompt: '[[sim:search]] latest Node release?' });
    const out = toolOutput(frames.at(-1)!);
    expect(out.metadata).toMatchObject({
      provider: 'KIMI',
      model: 'kimi-k2-turbo-preview',
      web_search: { searches: 1 },
    });
    expect(sim.billedSearches).toBe(1);
    const [first, second] = chatRequests(sim, 'kimi');
    expect(first.body).toMatchObject({
      stream: false,
      tools: [{ type: 'builtin_function', function: { name: '$web_search' } }],
    });
    const messages = (second.body as { messages: Array<Record<string, unknown>> }).messages;
    const tool = messages.find((m) => m.role === 'tool')!;
    const assistant = messages.find((m) => m.role === 'assistant')!;
    const callArgs = (assistant.tool_calls as Array<{ id: string; function: { arguments: string } }>)[0];
    expect(tool).toMatchObject({ tool_call_id: callArgs.id, name: '$web_search' });
    expect(JSON.parse(tool.content as string)).toEqual(JSON.parse(callArgs.function.arguments));
  });

  it("glm_web_search calls GLM's standalone search API and returns its results", async () => {
    const frames = await call(c, 'glm_web_search', { query: 'what is new in TypeScript 6' });
    const out = toolOutput(frames.at(-1)!);
    const body = JSON.parse(out.content) as { search_result: Array<{ link: string }> };
    expect(body.search_result).toHaveLength(10);
    expect(body.search_result[0].link).toMatch(/^https?:/);
    expect(out.metadata).toMatchObject({ provider: 'GLM', results: 10 });
    const searches = sim.requests.filter((r) => r.path.endsWith('/web_search'));
    expect(searches.map((r) => r.body)).toEqual([
      {
        search_query: 'what is new in TypeScript 6',
        search_engine: 'search-prime',
        count: 10,
        search_recency_filter: 'noLimit',
      },
    ]);
    expect(chatRequests(sim, 'glm')).toHaveLength(0);
  });

  it('an abort mid-stream releases both the lease and the upstream socket', async () => {
    const snap = main.app.get(ConcurrencySnapshotService);
    const id = 'mid-stream';
    c.send({
      op: 'call_tool',
      request_id: id,
      name: 'chat',
      arguments: { prompt: '[[sim:stall_after=2]] long answer' },
    });
    await c.next((f) => f.op === 'call_tool_ack' && f.request_id === id);
    await waitFor(() => sim.openRequests === 1);
    expect((await snap.snapshot()).inFlight.GLM).toBe(1);
    c.send({ op: 'cancel', request_id: id });
    // The upstream socket is closed by the abort, long before any provider timeout
    // (its speed is measured by `npm run bench`).
    await waitFor(
      () => sim.abortedRequests === 1 && sim.openRequests === 0,
      5000,
      'the upstream request to be aborted',
    );
    expect(((await c.result(id)).error as ErrorBody).code).toBe('CANCELLED');
    await waitFor(async () => (await snap.snapshot()).inFlight.global === 0, 1000);
  });

  it("writes a chat call's upstream request before its ack and progress frames", async () => {
    // The client's socket on the daemon's side, to see when the daemon writes to it.
    const accepted = new Promise<Socket>((resolve) => (main.app.getHttpServer() as Server).once('connection', resolve));
    const g = await client(main);
    const toClient = await accepted;
    // A first call leaves a used keep-alive connection to the simulator: the
    // next request goes out on it, which undici delays to the check phase.
    await call(g, 'chat', { prompt: 'warm the connection' });
    const order: string[] = [];
    const onRequest = () => order.push('upstream request');
    subscribe('undici:client:sendHeaders', onRequest);
    const writes = toClient as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
    for (const method of ['_write', '_writev'] as const) {
      const original = writes[method];
      writes[method] = function (this: Socket, ...args: unknown[]) {
        order.push('client write');
        return original.apply(this, args);
      };
    }
    try {
      const frames = await call(g, 'chat', { prompt: 'which goes first?' });
      expect(frames.map((f) => f.op)).toEqual(['progress', 'call_tool_ack', 'progress', 'call_tool_res']);
    } finally {
      unsubscribe('undici:client:sendHeaders', onRequest);
      delete (writes as Partial<typeof writes>)._write;
      delete (writes as Partial<typeof writes>)._writev;
    }
    // Then one write of accepted, ack and progress, then one of the result.
    expect(order).toEqual(['upstream request', 'client write', 'client write']);
  });

  it('streamed and non-streamed calls keep reusing one keep-alive connection to the provider', async () => {
    const g = await client(main);
    await call(g, 'chat', { prompt: 'warm the connection' });
    let connects = 0;
    const simPort = new URL(sim.url).port;
    // The channel also hears this test's own fetch (Node's bundled undici): only the provider's connections count.
    const onConnect = (message: unknown) => {
      if (String((message as { connectParams: { port: unknown } }).connectParams.port) === simPort) connects++;
    };
    subscribe('undici:client:connected', onConnect);
    try {
      // Each streamed answer ends at [DONE] with its body not read to the end; the
      // attempt lets go of that body without closing the socket under it.
      for (let i = 0; i < 5; i++)
        expect(toolOutput((await call(g, 'chat', { prompt: `turn ${i}` })).at(-1)!).status).toBe('success');
      const v1 = await fetch(`${main.httpUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'glm-4.5-flash', messages: [{ role: 'user', content: 'not streamed' }] }),
      });
      expect(v1.status).toBe(200);
      await v1.json();
    } finally {
      unsubscribe('undici:client:connected', onConnect);
    }
    expect(connects).toBe(0);
  });

  it('a client disconnecting during a provider call aborts the upstream request', async () => {
    const d = await client(main);
    d.send({ op: 'call_tool', request_id: 'gone', name: 'chat', arguments: { prompt: '[[sim:stall]] wait for me' } });
    await waitFor(() => sim.openRequests === 1);
    d.close();
    await waitFor(() => sim.abortedRequests === 1 && sim.openRequests === 0, 1000);
  });

  it('fails a stream that goes idle early, without waiting for the whole budget', async () => {
    const d = await daemon({ EXAI_STREAM_IDLE_TIMEOUT_SECS: '1', EXAI_PROVIDER_MAX_RETRIES: '0' });
    const g = await client(d);
    const started = Date.now();
    const err = errorOf(await call(g, 'chat', { prompt: '[[sim:stall_after=1]] then silence' }));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'GLM' });
    expect(err.message).toMatch(/sent nothing for 1s/);
    expect(Date.now() - started).toBeLessThan(3000);
    // The stalled upstream request is closed, not left open behind the failed attempt.
    await waitFor(() => sim.openRequests === 0 && sim.abortedRequests === 1, 5000, 'stalled request closed');
  });

  it.each([
    [
      'GLM content filter',
      'chat',
      { prompt: '[[sim:filter=input]] x' },
      { code: 'PROVIDER_ERROR', provider: 'GLM', status: 400, provider_code: '1301' },
    ],
    [
      'GLM finish_reason sensitive',
      'chat',
      { prompt: '[[sim:finish=sensitive]] x' },
      { code: 'PROVIDER_ERROR', provider: 'GLM', status: 200, provider_code: 'sensitive' },
    ],
    [
      'Kimi content filter',
      'kimi_chat_with_tools',
      { prompt: '[[sim:filter]] x', use_websearch: false },
      { code: 'PROVIDER_ERROR', provider: 'KIMI', status: 400, provider_code: 'content_filter' },
    ],
    [
      'GLM 500 after retries',
      'chat',
      { prompt: '[[sim:error=500]] x' },
      { code: 'PROVIDER_UNAVAILABLE', provider: 'GLM', status: 500, provider_code: '500' },
    ],
    [
      'Kimi overloaded after retries',
      'kimi_chat_with_tools',
      { prompt: '[[sim:error=503]] x', use_websearch: false },
      { code: 'PROVIDER_UNAVAILABLE', provider: 'KIMI', provider_code: 'engine_overloaded_error' },
    ],
  ])('maps %s', async (_label, tool, args, expected) => {
    expect(errorOf(await call(c, tool, args, 15000))).toMatchObject(expected);
  });

  it('maps GLM network_error to a retry and GLM balance (1113, HTTP 429) to PROVIDER_ERROR', async () => {
    sim.script('glm', {
      status: 429,
      errorBody: { error: { code: '1113', message: 'Insufficient balance or no resource package. Please recharge.' } },
    });
    expect(errorOf(await call(c, 'chat', { prompt: 'pay up' }))).toMatchObject({
      code: 'PROVIDER_ERROR',
      status: 429,
      provider_code: '1113',
    });
    sim.script('glm', { finishReason: 'network_error', content: 'partial' });
    const out = toolOutput((await call(c, 'chat', { prompt: 'flaky' })).at(-1)!);
    expect(out.metadata.attempts).toBe(2);
  });

  it('maps a wrong API key to PROVIDER_ERROR, and refuses a prompt over the model’s window before sending it', async () => {
    const d = await daemon({ GLM_API_KEY: 'wrong-key', KIMI_MODELS: 'moonshot-v1-8k,kimi-k2-turbo-preview' });
    const g = await client(d);
    expect(errorOf(await call(g, 'chat', { prompt: 'x' }))).toMatchObject({
      code: 'PROVIDER_ERROR',
      provider: 'GLM',
      status: 401,
    });
    // 12,500 estimated tokens against moonshot-v1-8k's 8,192: refused by the
    // daemon before admission, where the upstream would answer 400.
    const long = 'word '.repeat(10_000);
    const frames = await call(g, 'chat', { prompt: long, model: 'moonshot-v1-8k' });
    expect(frames.map((f) => f.op)).toEqual(['call_tool_res']);
    expect(errorOf(frames)).toMatchObject({
      code: 'INVALID_ARGUMENTS',
      details: { model: 'moonshot-v1-8k', context_window_tokens: 8192 },
    });
  });

  it('answers an unknown explicit model with INVALID_ARGUMENTS listing the available models', async () => {
    const err = errorOf(await call(c, 'chat', { prompt: 'x', model: 'gpt-9' }));
    expect(err.code).toBe('INVALID_ARGUMENTS');
    expect(err.message).toMatch(/Unknown model "gpt-9"/);
    expect(err.details?.available_models).toEqual(expect.arrayContaining(['glm-4.6', 'kimi-k2-thinking']));
    expect(chatRequests(sim, 'glm')).toHaveLength(0);
  });

  it('threads continuation_id through chat', async () => {
    const first = toolOutput((await call(c, 'chat', { prompt: 'my name is Ada' })).at(-1)!);
    const id = first.metadata.continuation_id as string;
    await call(c, 'chat', { prompt: 'what is my name?', continuation_id: id });
    const messages = (chatRequests(sim, 'glm')[1].body as { messages: Array<{ role: string; content: string }> })
      .messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[0].content).toBe('my name is Ada');
  });

  it('lists both providers and their models', async () => {
    const out = toolOutput((await call(c, 'listmodels', {})).at(-1)!);
    const listing = JSON.parse(out.content) as {
      providers: Array<{ provider: string; mode: string; models: Array<{ id: string }> }>;
    };
    expect(listing.providers.map((p) => [p.provider, p.mode])).toEqual([
      ['GLM', 'real'],
      ['KIMI', 'real'],
    ]);
    expect(listing.providers[1].models.map((m) => m.id)).toContain('kimi-k2-thinking');
  });
});

describe('provider modes', () => {
  it('runs against the embedded simulator when no key is set, and says so in /health', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const d = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'auto',
      GLM_API_KEY: '',
      ZHIPUAI_API_KEY: '',
      KIMI_API_KEY: '',
      MOONSHOT_API_KEY: '',
    });
    try {
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^SIMULATED PROVIDERS/));
      const health = (await (await fetch(`${d.httpUrl}/health`)).json()) as {
        details: { providers: { mode: string } };
      };
      expect(health.details.providers.mode).toBe('simulated');
      const c = await TestClient.ready(d.url);
      c.send({ op: 'call_tool', request_id: 'm', name: 'chat', arguments: { prompt: 'hi sim' } });
      expect(toolOutput(await c.result('m', 10000)).content).toContain('hi sim');
      c.close();
    } finally {
      await d.close();
      warn.mockRestore();
    }
  });
});
