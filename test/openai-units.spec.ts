import { OverCapacityError } from '../src/concurrency/concurrency.errors';
import { CallTimeoutError, ShuttingDownError } from '../src/common/call.errors';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';
import { chunkBody, openAiUsage } from '../src/openai/chat-completion.format';
import { parseChatRequest } from '../src/openai/chat-request.parser';
import { ChatSseWriter } from '../src/openai/chat-sse.writer';
import { OpenAiApiError, toOpenAiError } from '../src/openai/openai.errors';
import { ProviderError, ProviderUnavailableError } from '../src/providers/providers.errors';
import { UnknownModelError } from '../src/tools/tools.errors';

const user = (content: unknown) => ({ model: 'auto', messages: [{ role: 'user', content }] });

describe('parseChatRequest', () => {
  it('maps OpenAI fields to the provider request', () => {
    const r = parseChatRequest({
      model: 'glm-4.6',
      messages: [
        { role: 'developer', content: 'rules' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'out' },
      ],
      max_tokens: 10,
      max_completion_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
      stop: 'END',
      top_p: 0.5,
      user: 'someone',
      response_format: { type: 'json_object' },
    });
    expect(r.messages.map((m) => [m.role, m.content])).toEqual([
      ['system', 'rules'],
      ['user', 'a\nb'],
      ['assistant', ''],
      ['tool', 'out'],
    ]);
    expect(r.messages[3].tool_call_id).toBe('c1');
    expect(r).toMatchObject({ maxTokens: 20, stream: true, includeUsage: true, stop: 'END', topP: 0.5 });
    // `user` is OpenAI-side bookkeeping; response_format waits for the provider check.
    expect(r.extra).toEqual({ response_format: { type: 'json_object' } });
  });

  it.each([
    [{ messages: [] }, 'model'],
    [{ model: 'auto', messages: [] }, 'messages'],
    [user([{ type: 'image_url', image_url: { url: 'x' } }]), 'messages[0].content[0]'],
    [{ model: 'auto', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'auto', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [{ ...user('x'), n: 2 }, 'n'],
    [{ ...user('x'), temperature: 3 }, 'temperature'],
    [{ ...user('x'), max_tokens: 0 }, 'max_tokens'],
    [{ ...user('x'), stop: [1] }, 'stop'],
    [{ ...user('x'), tools: {} }, 'tools'],
  ])('refuses %j naming %s', (body, param) => {
    let err: unknown;
    try {
      parseChatRequest(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpenAiApiError);
    expect((err as OpenAiApiError).status).toBe(400);
    expect((err as OpenAiApiError).param).toBe(param);
  });

  it('sends parallel_tool_calls=false to the provider check instead of dropping it', () => {
    expect(parseChatRequest({ ...user('x'), parallel_tool_calls: false }).extra).toEqual({
      parallel_tool_calls: false,
    });
    expect(parseChatRequest({ ...user('x'), parallel_tool_calls: true }).extra).toEqual({});
  });
});

describe('toOpenAiError', () => {
  it.each([
    [new UnknownModelError('x', ['a']), 404, 'model_not_found', undefined],
    [new OverCapacityError('GLM', 7), 429, 'over_capacity', 7],
    [new CallTimeoutError(120), 504, 'deadline_exceeded', undefined],
    [new ShuttingDownError(), 503, 'shutting_down', 1],
    [new ProviderUnavailableError('down', { provider: 'GLM', retryAfterSecs: 4 }), 503, 'provider_unavailable', 4],
    [
      new ProviderError('bad', { provider: 'KIMI', status: 400, providerCode: 'context_length' }),
      400,
      'context_length',
      undefined,
    ],
    [new ProviderError('key', { provider: 'GLM', status: 401, providerCode: '1000' }), 502, '1000', undefined],
    [new Error('boom'), 500, 'internal_error', undefined],
  ])('%s → %i %s', (err, status, code, retryAfter) => {
    const mapped = toOpenAiError(err);
    expect(mapped).toMatchObject({ status, code });
    expect(mapped.retryAfterSecs).toBe(retryAfter);
    expect(mapped.body().error).toEqual({
      message: expect.any(String),
      type: expect.any(String),
      code,
      param: mapped.param ?? null,
    });
  });
});

describe('ChatSseWriter', () => {
  /** A real HTTP exchange: `write` drives the writer on the server side; resolves with the body and the writes it made. */
  async function stream(
    write: (writer: ChatSseWriter) => Promise<void>,
  ): Promise<{ events: string[]; writes: number; overflowed: boolean }> {
    let writes = 0;
    let overflowed = false;
    const server = createServer((req, res) => {
      for (const method of ['write', 'end'] as const) {
        const original = res[method].bind(res) as (...args: unknown[]) => unknown;
        (res as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          writes++;
          return original(...args);
        };
      }
      const writer = new ChatSseWriter(
        res,
        'chatcmpl-"x"\u2028',
        1_700_000_000,
        'glm-4.6 "q"',
        () => (overflowed = true),
      );
      void write(writer);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await undiciRequest(`http://127.0.0.1:${port}/`);
      const body = await res.body.text();
      return { events: body.split('\n\n').filter((e) => e !== ''), writes, overflowed };
    } finally {
      server.close();
    }
  }
  const result = (finishReason: string) => ({
    content: 'ab',
    model: 'glm-4.6',
    usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
    finishReason,
    attempts: 1,
  });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify(chunkBody('chatcmpl-"x"\u2028', 1_700_000_000, 'glm-4.6 "q"', delta, finish))}`;

  it("writes exactly chunkBody()'s JSON for every event, and what one turn produced in one write", async () => {
    const toolCalls = [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }];
    const { events, writes, overflowed } = await stream(async (writer) => {
      writer.delta({ content: 'quote " and \n newline, ünïcode 😀' });
      writer.delta({ reasoning: 'because' });
      await new Promise((resolve) => setImmediate(resolve));
      writer.delta({ toolCalls });
      writer.finish(result('tool_calls'), true);
    });
    expect(events).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'quote " and \n newline, ünïcode 😀' }),
      chunk({ reasoning_content: 'because' }),
      chunk({ tool_calls: toolCalls }),
      chunk({}, 'tool_calls'),
      `data: ${JSON.stringify({ ...chunkBody('chatcmpl-"x"\u2028', 1_700_000_000, 'glm-4.6 "q"', {}), choices: [], usage: openAiUsage(result('').usage) })}`,
      'data: [DONE]',
    ]);
    // The opening chunk and the first two deltas in one write, the rest with the end.
    expect(writes).toBe(2);
    expect(overflowed).toBe(false);
  });

  it("finishes with 'stop' when the provider gave no finish reason, and sends an error event after a start", async () => {
    const { events } = await stream(async (writer) => {
      writer.delta({ content: 'x' });
      await new Promise((resolve) => setImmediate(resolve));
      writer.fail(new OpenAiApiError(502, 'upstream broke', 'server_error', 'provider_error'));
    });
    expect(events).toEqual([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'x' }),
      `data: ${JSON.stringify(new OpenAiApiError(502, 'upstream broke', 'server_error', 'provider_error').body())}`,
      'data: [DONE]',
    ]);
    const stopped = await stream(async (writer) => writer.finish(result(''), false));
    expect(stopped.events).toEqual([chunk({ role: 'assistant', content: '' }), chunk({}, 'stop'), 'data: [DONE]']);
  });
});
