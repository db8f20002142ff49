import { request as httpRequest } from 'node:http';
import OpenAI, { APIError, AuthenticationError, NotFoundError, RateLimitError } from 'openai';
import { ConcurrencySnapshotService } from '../src/concurrency/concurrency-snapshot.service';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { SMALL_LIMITS } from './support/concurrency-kit';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { waitFor } from './support/wait';
import { TestClient, toolOutput } from './support/ws-client';

const TOKEN = 'openai-test-token';

/**
 * The OpenAI-compatible API driven by the official `openai` SDK against a
 * real daemon whose providers are the HTTP simulator.
 */
describe('OpenAI-compatible API (/v1) with the openai SDK', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  const daemons: TestDaemon[] = [];

  async function daemon(env: Record<string, string> = {}): Promise<TestDaemon> {
    const d = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'real',
      GLM_API_KEY: 'sim-glm-key',
      KIMI_API_KEY: 'sim-kimi-key',
      GLM_API_URL: sim.glmBaseUrl,
      KIMI_API_URL: sim.kimiBaseUrl,
      EXAI_WS_TOKEN: TOKEN,
      EXAI_PROVIDER_MAX_RETRIES: '0',
      ...env,
    });
    daemons.push(d);
    return d;
  }

  function sdk(d: TestDaemon, options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
    return new OpenAI({ baseURL: `${d.httpUrl}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 30_000, ...options });
  }

  async function idle(d: TestDaemon): Promise<void> {
    const snap = d.app.get(ConcurrencySnapshotService);
    await waitFor(
      async () => {
        const s = await snap.snapshot();
        // The provider has seen every upstream request end, too.
        return s.inFlight.global === 0 && s.leases === 0 && s.queued === 0 && sim.openRequests === 0;
      },
      10_000,
      'every lease released and every upstream request closed',
    );
  }

  /** A streamed call that holds its permits until aborted: the simulator never answers. */
  function stalledStream(client: OpenAI, session: string) {
    const controller = new AbortController();
    const done = client.chat.completions
      .create(
        { model: 'glm-4.5-flash', stream: true, messages: [{ role: 'user', content: 'hold [[sim:stall]]' }] },
        { signal: controller.signal, headers: { 'X-EXAI-Session': session } },
      )
      .then(
        () => 'resolved',
        () => 'aborted',
      );
    return { controller, done };
  }

  let main: TestDaemon;
  beforeAll(async () => {
    await sim.start(0, '127.0.0.1');
    main = await daemon(SMALL_LIMITS);
  });
  afterEach(() => sim.reset());
  afterAll(async () => {
    for (const d of daemons) await d.close();
    await sim.stop();
  });

  it('answers a non-streamed chat completion in OpenAI shape, with usage', async () => {
    const res = await sdk(main).chat.completions.create({
      model: 'glm-4.6',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there' },
      ],
      temperature: 0.2,
      max_tokens: 50,
      top_p: 0.9,
      stop: ['END'],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('glm-4.6');
    expect(res.choices[0].message.role).toBe('assistant');
    expect(res.choices[0].message.content).toContain('hello there');
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    // The honoured fields reached the provider as OpenAI names them.
    const sent = sim.requests.find((r) => r.provider === 'glm' && r.path.endsWith('/chat/completions'))!;
    expect(sent.body).toMatchObject({ model: 'glm-4.6', temperature: 0.2, max_tokens: 50, top_p: 0.9, stop: ['END'] });
    // A caller that does not stream is served from one non-streamed upstream answer.
    expect(sent.body).toMatchObject({ stream: false });
    expect(sent.headers.accept).toBe('application/json');
    await idle(main);
  });

  it('streams chunks and ends with a usage chunk and [DONE] when include_usage is set', async () => {
    const stream = await sdk(main).chat.completions.create({
      model: 'kimi-k2-turbo-preview',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'count [[sim:tokens=6]]' }],
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('tok1 tok2 tok3 tok4 tok5 tok6');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'kimi-k2-turbo-preview')).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 6 });
    const sent = sim.requests.find((r) => r.provider === 'kimi' && r.path.endsWith('/chat/completions'))!;
    expect(sent.body).toMatchObject({ stream: true });
    await idle(main);
  });

  it('routes model "auto" by the routing rules (a short chat goes to the GLM speed model)', async () => {
    const res = await sdk(main).chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'route me' }],
    });
    expect(res.model).toBe('glm-4.5-flash');
    const sent = sim.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(sent.map((r) => [r.provider, (r.body as { model: string }).model])).toEqual([['glm', 'glm-4.5-flash']]);
  });

  it('lists every served model with its provider as owner, and 404s an unknown one', async () => {
    const client = sdk(main);
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    const owners = Object.fromEntries(models.map((m) => [m.id, m.owned_by]));
    expect(owners).toMatchObject({ auto: 'exai-gateway', 'glm-4.6': 'glm', 'kimi-k2-thinking': 'kimi' });

    const err = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('model_not_found');
    expect((err as NotFoundError).message).toMatch(/gpt-4o.*glm-4\.6/);
    expect(sim.requests).toHaveLength(0);
  });

  it('takes an old alias in any case: retrieve names the canonical model, and the call is served by it', async () => {
    const client = sdk(main);
    expect(await client.models.retrieve('KIMI-K2-0711')).toMatchObject({
      id: 'kimi-k2-0711-preview',
      owned_by: 'kimi',
    });
    const res = await client.chat.completions.create({
      model: 'Kimi-K2-0711',
      messages: [{ role: 'user', content: 'alias' }],
    });
    expect(res.model).toBe('kimi-k2-0711-preview');
    const sent = sim.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(sent.map((r) => [r.provider, (r.body as { model: string }).model])).toEqual([
      ['kimi', 'kimi-k2-0711-preview'],
    ]);
  });

  it('refuses a missing or wrong token with 401 in OpenAI shape', async () => {
    const err = await sdk(main, { apiKey: 'wrong' })
      .chat.completions.create({ model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).code).toBe('invalid_api_key');
    const raw = await fetch(`${main.httpUrl}/v1/models`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', code: 'invalid_api_key', param: null },
    });
  });

  it('applies the daemon-wide Host check to /v1 (DNS rebinding), before the token is even looked at, in OpenAI’s error shape', async () => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${main.httpUrl}/v1/models`,
        { headers: { host: 'attacker.example', authorization: `Bearer ${TOKEN}` } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(reply.status).toBe(403);
    // What an OpenAI SDK parses into PermissionDeniedError's message and code.
    expect(JSON.parse(reply.body)).toEqual({
      error: {
        message:
          'Host "attacker.example" is not served here; add it to EXAI_HTTP_ALLOWED_HOSTS if it names this daemon',
        type: 'invalid_request_error',
        code: 'host_not_allowed',
        param: null,
      },
    });
  });

  it('answers 400 for a bad request and for a field the provider does not accept, before any permit', async () => {
    const client = sdk(main);
    const bad = await client.chat.completions
      .create({ model: 'glm-4.6', messages: [] as OpenAI.Chat.ChatCompletionMessageParam[] })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, param: 'messages' });
    const unsupported = await client.chat.completions
      .create({ model: 'glm-4.6', seed: 7, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(unsupported).toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'seed' });
    const malformed = await fetch(`${main.httpUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect(sim.requests).toHaveLength(0);
  });

  it('passes a provider-accepted extra field and the caller tools through', async () => {
    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'lookup', description: 'Looks up', parameters: { type: 'object', properties: {} } },
      },
    ];
    await sdk(main).chat.completions.create({
      model: 'kimi-k2-turbo-preview',
      presence_penalty: 0.5,
      tools,
      tool_choice: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const sent = sim.requests.find((r) => r.provider === 'kimi')!.body as Record<string, unknown>;
    expect(sent).toMatchObject({ presence_penalty: 0.5, tools, tool_choice: 'auto' });
  });

  it('answers 429 with Retry-After when capacity is full, and the lease of the holder is kept', async () => {
    const d = await daemon({ ...SMALL_LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    const client = sdk(d);
    const holderCall = stalledStream(client, 'holder');
    await waitFor(() => sim.openRequests === 1, 10_000, 'the holder reached the provider');

    const res = await fetch(`${d.httpUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-exai-session': 'other' },
      body: JSON.stringify({ model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'over_capacity' });
    expect(body.error.message).toMatch(/GLM/);

    const viaSdk = await client.chat.completions
      .create({ model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(RateLimitError);

    const snap = await d.app.get(ConcurrencySnapshotService).snapshot();
    expect(snap.inFlight).toMatchObject({ global: 1, GLM: 1 });
    holderCall.controller.abort();
    expect(await holderCall.done).toBe('aborted');
    await idle(d);
  });

  it('aborting mid-stream aborts the upstream request and releases the lease', async () => {
    const d = await daemon(SMALL_LIMITS);
    const controller = new AbortController();
    const stream = await sdk(d).chat.completions.create(
      { model: 'glm-4.5-flash', stream: true, messages: [{ role: 'user', content: 'go [[sim:stall_after=3]]' }] },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    // The SDK ends the iteration quietly on its own abort.
    for await (const chunk of stream) {
      seen.push(chunk.choices[0]?.delta?.content ?? '');
      if (seen.join('').length > 0) controller.abort();
    }
    expect(seen.join('')).not.toBe('');
    await waitFor(() => sim.abortedRequests === 1 && sim.openRequests === 0, 10_000, 'upstream aborted');
    await idle(d);
    // The permit is really free: the GLM limit is 1, and the next call gets it.
    const next = await sdk(d).chat.completions.create({
      model: 'glm-4.5-flash',
      messages: [{ role: 'user', content: 'after' }],
    });
    expect(next.choices[0].message.content).toContain('after');
  });

  it('the SDK retries a 429 after the Retry-After it was given and then succeeds', async () => {
    const d = await daemon({ ...SMALL_LIMITS, EXAI_WS_QUEUE_TIMEOUT_SECS: '0' });
    const attempts: Array<{ at: number; status: number; retryAfter: string | null }> = [];
    const holderCall = stalledStream(sdk(d), 'holder');
    await waitFor(() => sim.openRequests === 1, 10_000, 'the holder reached the provider');
    const client = sdk(d, {
      maxRetries: 2,
      fetch: async (url: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(url, init);
        attempts.push({ at: Date.now(), status: res.status, retryAfter: res.headers.get('retry-after') });
        // The first refusal frees the permit, so the SDK's retry is admitted.
        if (res.status === 429) holderCall.controller.abort();
        return res;
      },
    });
    const res = await client.chat.completions.create({
      model: 'glm-4.6',
      messages: [{ role: 'user', content: 'retry me' }],
    });
    expect(res.choices[0].message.content).toContain('retry me');
    expect(attempts.map((a) => a.status)).toEqual([429, 200]);
    const waitedMs = attempts[1].at - attempts[0].at;
    expect(waitedMs).toBeGreaterThanOrEqual(Number(attempts[0].retryAfter) * 1000 - 50);
    await idle(d);
  });

  it('past the deadline: 504 before the stream started, an SSE error event after', async () => {
    const d = await daemon({ ...SMALL_LIMITS, GLM_TIMEOUT_SECS: '1', EXAI_STREAM_IDLE_TIMEOUT_SECS: '60' });
    const client = sdk(d);
    const before = await client.chat.completions
      .create({ model: 'glm-4.5-flash', messages: [{ role: 'user', content: 'slow [[sim:stall]]' }] })
      .catch((e: unknown) => e);
    expect(before).toBeInstanceOf(APIError);
    expect(before).toMatchObject({ status: 504, code: 'deadline_exceeded' });

    const stream = await client.chat.completions.create({
      model: 'glm-4.5-flash',
      stream: true,
      messages: [{ role: 'user', content: 'slow [[sim:stall_after=2]]' }],
    });
    let text = '';
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).not.toBe('');
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/exceeded 1s/);
    await idle(d);
  });

  it('never retries a stream whose output the client already has: one upstream attempt, then an error event', async () => {
    const d = await daemon({ ...SMALL_LIMITS, EXAI_PROVIDER_MAX_RETRIES: '2', EXAI_STREAM_IDLE_TIMEOUT_SECS: '1' });
    const stream = await sdk(d).chat.completions.create({
      model: 'glm-4.5-flash',
      stream: true,
      messages: [{ role: 'user', content: 'partial [[sim:stall_after=3]]' }],
    });
    const pieces: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta?.content ?? '');
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).message).toMatch(/sent nothing for 1s/);
    // A retry would have replayed the answer from its start after what was already streamed.
    const text = pieces.join('');
    expect(text).not.toBe('');
    expect(sim.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);
    await idle(d);
  });

  it('counts provider tokens for HTTP and WebSocket calls alike, per provider, in /metrics and /health', async () => {
    const d = await daemon({ EXAI_WS_TOKEN: '' });
    await sdk(d).chat.completions.create({ model: 'glm-4.6', messages: [{ role: 'user', content: 'one two' }] });
    const ws = await TestClient.ready(d.url);
    try {
      ws.send({ op: 'call_tool', request_id: 'w1', name: 'chat', arguments: { prompt: 'three', model: 'glm-4.6' } });
      const frames = await ws.callFrames('w1', 10_000);
      expect(toolOutput(frames.at(-1)!).status).toBe('success');
    } finally {
      ws.close();
    }
    const metrics = await (await fetch(`${d.httpUrl}/metrics`)).text();
    const line = (kind: string) =>
      new RegExp(`^exai_tokens_total\\{provider="GLM",model="glm-4.6",kind="${kind}"\\} (\\d+)$`, 'm').exec(metrics);
    const prompt = Number(line('prompt')?.[1]);
    const completion = Number(line('completion')?.[1]);
    expect(prompt).toBeGreaterThan(0);
    expect(completion).toBeGreaterThan(0);
    expect(metrics).toMatch(/exai_calls_total\{tool="v1.chat.completions",outcome="success"\} 1/);

    const health = (await (await fetch(`${d.httpUrl}/health`)).json()) as {
      details: { providers: { providers: Record<string, { usage: Record<string, unknown> }> } };
    };
    const glm = health.details.providers.providers.GLM.usage;
    expect(glm).toMatchObject({ calls: 2, errors: 0, errorRate: 0, tokens: { prompt, completion } });
    expect(glm.latencyMs).toEqual({ p50: expect.any(Number), p95: expect.any(Number) });
  });
});
