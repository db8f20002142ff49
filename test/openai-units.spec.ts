import { OverCapacityError } from '../src/concurrency/concurrency.errors';
import { CallTimeoutError, ShuttingDownError } from '../src/common/call.errors';
import { parseChatRequest } from '../src/openai/chat-request.parser';
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
