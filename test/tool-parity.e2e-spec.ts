import { simulatorHarness } from './support/simulator-harness';
import { TestClient, toolOutput } from './support/ws-client';

const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** The old daemon's argument shapes and model names, through a real daemon and the simulator. */
describe('old EXAI argument shapes and model names', () => {
  const h = simulatorHarness({ EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'chat,kimi_chat_with_tools,glm_web_search' });
  const { sim, call, ok, errorOf } = h;
  const chatBodies = (provider: 'glm' | 'kimi') =>
    sim.requests
      .filter((r) => r.provider === provider && r.path.endsWith('/chat/completions'))
      .map((r) => r.body as Record<string, unknown>);

  describe('model names', () => {
    it.each([
      ['kimi-k2-0711-preview', 'kimi-k2-0711-preview', 'KIMI'],
      ['kimi-k2-0711', 'kimi-k2-0711-preview', 'KIMI'],
      ['kimi-k2-0905', 'kimi-k2-0905-preview', 'KIMI'],
      ['kimi-k2', 'kimi-k2-0905-preview', 'KIMI'],
      ['kimi-k2-turbo', 'kimi-k2-turbo-preview', 'KIMI'],
      ['Kimi-K2-Turbo-Preview', 'kimi-k2-turbo-preview', 'KIMI'],
      ['kimi-thinking-preview', 'kimi-thinking-preview', 'KIMI'],
      ['kimi-latest', 'kimi-latest', 'KIMI'],
      ['moonshot-v1-8k', 'moonshot-v1-8k', 'KIMI'],
      ['glm-4.5-x', 'glm-4.5-air', 'GLM'],
      ['GLM-4.5-Flash', 'glm-4.5-flash', 'GLM'],
      ['glm-4.5v', 'glm-4.5v', 'GLM'],
    ])('chat with model %s runs on %s (%s)', async (name, canonical, provider) => {
      const out = toolOutput(await call('chat', { prompt: 'which model?', model: name }));
      expect(out.metadata).toMatchObject({ provider, model: canonical });
      const bodies = chatBodies(provider === 'GLM' ? 'glm' : 'kimi');
      expect(bodies.map((b) => b.model)).toEqual([canonical]);
    });

    it('an unknown model is refused with the available models, aliases not listed as models', async () => {
      const res = await call('chat', { prompt: 'x', model: 'gpt-4o' });
      const error = res.error as { code: string; message: string; details: { available_models: string[] } };
      expect(error.code).toBe('INVALID_ARGUMENTS');
      expect(error.details.available_models).toContain('kimi-k2-0711-preview');
      expect(error.details.available_models).not.toContain('kimi-k2');
    });
  });

  describe('glm_web_search', () => {
    it('takes the old search_query with count and filters and sends them to /web_search', async () => {
      const out = ok(
        await call('glm_web_search', {
          search_query: 'node release',
          count: 3,
          search_engine: 'search_pro',
          search_domain_filter: 'nodejs.org',
          search_recency_filter: 'oneWeek',
          user_id: 'agent-0001',
        }),
      );
      expect((JSON.parse(out.content) as { search_result: unknown[] }).search_result).toHaveLength(3);
      const [req] = sim.requests.filter((r) => r.path === '/api/paas/v4/web_search');
      expect(req.body).toEqual({
        search_query: 'node release',
        count: 3,
        search_engine: 'search_pro',
        search_domain_filter: 'nodejs.org',
        search_recency_filter: 'oneWeek',
        user_id: 'agent-0001',
      });
    });

    it('maps the old recency "all" to noLimit and refuses a count over 50', async () => {
      ok(await call('glm_web_search', { search_query: 'x', search_recency_filter: 'all' }));
      expect(sim.requests.at(-1)!.body).toMatchObject({ search_recency_filter: 'noLimit' });
      const res = await call('glm_web_search', { search_query: 'x', count: 51 });
      expect(errorOf(res).code).toBe('INVALID_ARGUMENTS');
      expect(errorOf(res).message).toContain('/count');
    });
  });

  describe('kimi_chat_with_tools', () => {
    const lastKimi = () => chatBodies('kimi').at(-1)!;

    it('takes messages as one string', async () => {
      ok(await call('kimi_chat_with_tools', { messages: 'hello kimi', use_websearch: false }));
      expect(lastKimi().messages).toEqual([{ role: 'user', content: 'hello kimi' }]);
    });

    it('takes messages as an array of strings', async () => {
      ok(await call('kimi_chat_with_tools', { messages: ['first', 'second'], use_websearch: false }));
      expect(lastKimi().messages).toEqual([
        { role: 'user', content: 'first' },
        { role: 'user', content: 'second' },
      ]);
    });

    it('takes {role, content} messages, temperature and the old default model', async () => {
      const out = ok(
        await call('kimi_chat_with_tools', {
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'hi' },
          ],
          model: 'kimi-k2-0711-preview',
          temperature: 0.2,
          stream: true,
          use_websearch: false,
        }),
      );
      expect(out.metadata.model).toBe('kimi-k2-0711-preview');
      expect(lastKimi()).toMatchObject({ model: 'kimi-k2-0711-preview', temperature: 0.2 });
      expect(lastKimi().messages).toEqual([
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ]);
    });

    it('keeps prompt as an alias', async () => {
      ok(await call('kimi_chat_with_tools', { prompt: 'via prompt', use_websearch: false }));
      expect(lastKimi().messages).toEqual([{ role: 'user', content: 'via prompt' }]);
    });

    it("takes tools as JSON text and returns a call of the caller's own function with its tool_calls", async () => {
      const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } };
      sim.script('kimi', { toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }] });
      const out = ok(
        await call('kimi_chat_with_tools', {
          messages: 'weather in Oslo?',
          tools: JSON.stringify([weather]),
          tool_choice: 'auto',
          use_websearch: false,
        }),
      );
      expect(out.metadata).toMatchObject({
        finish_reason: 'tool_calls',
        tool_calls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
      });
      expect(lastKimi()).toMatchObject({ tools: [weather], tool_choice: 'auto' });
    });

    it('turns a "$web_search" string into the builtin and completes the round trip (no tool_call_pending)', async () => {
      const out = ok(
        await call('kimi_chat_with_tools', {
          messages: '[[sim:search]] latest Node?',
          tools: ['$web_search'],
          use_websearch: false,
        }),
      );
      expect(out.status).toBe('success');
      expect(out.content).toContain('grounded in 1 web search');
      const bodies = chatBodies('kimi');
      expect(bodies).toHaveLength(2);
      expect(bodies[0].tools).toEqual([{ type: 'builtin_function', function: { name: '$web_search' } }]);
      expect(bodies[0].stream).toBe(false);
    });

    it("hands a reply that calls both $web_search and the caller's function back to the caller, not into the search loop", async () => {
      sim.script('kimi', {
        toolCalls: [
          { id: 'call_s', name: '$web_search', arguments: '{"search_result":{"search_id":"x"}}' },
          { id: 'call_f', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        ],
      });
      const out = ok(
        await call('kimi_chat_with_tools', {
          messages: 'weather?',
          tools: ['$web_search', { type: 'function', function: { name: 'get_weather' } }],
        }),
      );
      expect(out.metadata).toMatchObject({ finish_reason: 'tool_calls' });
      expect((out.metadata.tool_calls as Array<{ id: string }>).map((t) => t.id)).toEqual(['call_s', 'call_f']);
      expect(chatBodies('kimi')).toHaveLength(1);
    });

    it('refuses a tool string that is not a builtin name, naming it', async () => {
      const res = await call('kimi_chat_with_tools', { messages: 'x', tools: ['web_search'] });
      expect(errorOf(res).code).toBe('INVALID_ARGUMENTS');
      expect(errorOf(res).message).toContain('web_search');
    });
  });

  describe('status, version, listmodels', () => {
    it('status takes doctor, tail_lines, include_tools and probe, and ignores unknown keys', async () => {
      ok(await call('chat', { prompt: 'first call' }));
      const out = ok(
        await call('status', { doctor: true, tail_lines: 5, include_tools: true, probe: true, verbose: 'yes' }),
      );
      const status = JSON.parse(out.content) as Record<string, unknown>;
      expect(status.providers_configured).toEqual(['GLM', 'KIMI']);
      expect(status.models_available).toContain('kimi-k2-0711-preview');
      expect(status.tools).toContain('provider_capabilities');
      expect((status.recent_activity as string[]).some((l) => l.includes('tool=chat outcome=success'))).toBe(true);
      expect(status.doctor).toMatchObject({ probes: { listmodels: { ok: true } } });
      expect(status.probe).toMatchObject({ ok: true, provider: 'GLM', model: 'glm-4.5-flash' });
      expect(chatBodies('glm').at(-1)!.messages).toEqual([{ role: 'user', content: 'ping' }]);
    });

    it.each(['version', 'listmodels'])(
      '%s accepts and ignores model, and refuses an unknown key by name',
      async (tool) => {
        ok(await call(tool, { model: 'kimi-k2' }));
        const res = await call(tool, { model: 'auto', colour: 'blue' });
        expect(errorOf(res).code).toBe('INVALID_ARGUMENTS');
        expect(errorOf(res).message).toContain('"colour"');
      },
    );

    it('listmodels shows each model with window, output cap, capabilities and aliases', async () => {
      const out = ok(await call('listmodels', {}));
      const kimi = (
        JSON.parse(out.content) as { providers: Array<{ provider: string; models: unknown[] }> }
      ).providers.find((p) => p.provider === 'KIMI')!;
      expect(kimi.models).toContainEqual({
        id: 'kimi-k2-0905-preview',
        context_window: 262_144,
        max_output_tokens: 8_192,
        thinking: false,
        vision: false,
        tools: true,
        aliases: ['kimi-k2-0905', 'kimi-k2'],
      });
    });
  });

  describe('chat', () => {
    it('takes stream and leaves web search off by default', async () => {
      ok(await call('chat', { prompt: 'plain', stream: true }));
      expect(chatBodies('glm').at(-1)).not.toHaveProperty('tools');
    });

    it('refuses images for a model without vision, naming the models that have it', async () => {
      const res = await call('chat', { prompt: 'look', model: 'glm-4.5-flash', images: [PNG] });
      expect(errorOf(res).code).toBe('INVALID_ARGUMENTS');
      expect(errorOf(res).message).toMatch(/glm-4\.5-flash does not accept images.*glm-4\.5v/);
      expect(chatBodies('glm')).toHaveLength(0);
    });

    it('sends images as image_url parts to a vision model', async () => {
      const out = ok(await call('chat', { prompt: 'what is this?', model: 'glm-4.5v', images: [PNG] }));
      expect(out.content).toContain('saw 1 image');
      expect(chatBodies('glm')[0].messages).toEqual([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this?' },
            { type: 'image_url', image_url: { url: PNG } },
          ],
        },
      ]);
    });

    it('routes model auto with images to a vision model', async () => {
      const out = ok(await call('chat', { prompt: 'describe', images: [PNG] }));
      expect(out.metadata).toMatchObject({ provider: 'GLM', model: 'glm-4.5v' });
    });

    it('refuses an image that is neither a data URL nor an http(s) URL', async () => {
      const res = await call('chat', { prompt: 'x', model: 'glm-4.5v', images: ['/etc/passwd'] });
      expect(errorOf(res).code).toBe('INVALID_ARGUMENTS');
      expect(errorOf(res).message).toContain('images[0]');
    });
  });

  describe('utility and provider tools', () => {
    it("activity shows this session's finished calls, filtered, as text or JSON Lines, and no other session's", async () => {
      ok(await call('chat', { prompt: 'one' }));
      const bad = await call('chat', { prompt: 'two', model: 'glm-4.5-flash', images: [PNG] });
      expect(errorOf(bad).code).toBe('INVALID_ARGUMENTS');
      ok(await call('kimi_chat_with_tools', { messages: 'three', use_websearch: false }));
      const text = ok(await call('activity', { lines: 50, filter: 'tool=(chat|kimi_chat_with_tools)' })).content;
      const lines = text.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/tool=chat outcome=success provider=GLM model=glm-4\.5-flash /);
      expect(lines[1]).toMatch(/tool=kimi_chat_with_tools outcome=success provider=KIMI model=kimi-k2-turbo-preview /);
      const json = ok(await call('activity', { filter: 'kimi', structured: true })).content;
      expect(json.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
        expect.objectContaining({ tool: 'kimi_chat_with_tools', outcome: 'success', admitted: true }),
      ]);
      const other = await TestClient.ready(h.daemon.url);
      try {
        other.send({ op: 'call_tool', request_id: 'o', name: 'activity', arguments: {} });
        expect(toolOutput(await other.result('o')).content).toBe('');
      } finally {
        other.close();
      }
    });

    it('activity refuses a filter that could take forever, and a bad date, by name', async () => {
      expect(errorOf(await call('activity', { filter: '(a+)+$' })).message).toContain('nested quantifier');
      expect(errorOf(await call('activity', { since: 'yesterday' })).message).toContain('since');
    });

    it("health reports providers, models and this session's recent calls, and ignores unknown keys", async () => {
      ok(await call('chat', { prompt: 'for health' }));
      const health = JSON.parse(ok(await call('health', { tail_lines: 1, extra: true })).content) as Record<
        string,
        unknown
      >;
      expect(health).toMatchObject({ providers_configured: ['GLM', 'KIMI'] });
      expect(health.toolcalls_tail).toEqual([expect.stringMatching(/tool=chat outcome=success/)]);
      expect(health.models_available).toContain('moonshot-v1-128k-vision-preview');
    });

    it('provider_capabilities says which keys are set without showing them, and filters advanced tools', async () => {
      const core = JSON.parse(ok(await call('provider_capabilities', {})).content) as Record<string, unknown>;
      expect(core.env).toMatchObject({ GLM_API_KEY_present: true, KIMI_API_KEY_present: true });
      expect(JSON.stringify(core)).not.toContain('sim-glm-key');
      expect(core.tools).toContain('chat');
      expect(core.tools).not.toContain('glm_payload_preview');
      const all = JSON.parse(
        ok(await call('provider_capabilities', { show_advanced: true, invalidate_cache: true })).content,
      ) as Record<string, unknown>;
      expect(all.tools).toContain('glm_payload_preview');
      expect(typeof all.routing_cache_cleared).toBe('number');
    });

    it('kimi_intent_analysis returns the JSON Kimi gives, at temperature 0.1 with 512 tokens', async () => {
      sim.script('kimi', {
        content:
          'Here: {"needs_websearch":true,"complexity":"deep","domain":"code","recommended_provider":"kimi","recommended_model":"kimi-k2-0905-preview","streaming_preferred":true}',
      });
      const out = ok(await call('kimi_intent_analysis', { prompt: 'audit this repo', context: 'a TS monorepo' }));
      expect(JSON.parse(out.content)).toEqual({
        needs_websearch: true,
        complexity: 'deep',
        domain: 'code',
        recommended_provider: 'KIMI',
        recommended_model: 'kimi-k2-0905-preview',
        streaming_preferred: true,
        fallback: false,
      });
      expect(chatBodies('kimi')[0]).toMatchObject({ temperature: 0.1, max_tokens: 512 });
    });

    it('kimi_intent_analysis falls back to a simple GLM default when the reply is not usable JSON', async () => {
      sim.script('kimi', { content: 'I think it is hard.' });
      const out = ok(await call('kimi_intent_analysis', { prompt: 'hmm', use_websearch: true }));
      expect(JSON.parse(out.content)).toMatchObject({
        complexity: 'simple',
        recommended_provider: 'GLM',
        fallback: true,
      });
    });

    it('glm_payload_preview shows the GLM body without any request', async () => {
      const out = ok(
        await call('glm_payload_preview', {
          prompt: 'hi',
          model: 'glm-4.6',
          system_prompt: 'terse',
          use_websearch: true,
          tools: '[{"type":"function","function":{"name":"f"}}]',
        }),
      );
      expect(JSON.parse(out.content)).toMatchObject({
        model: 'glm-4.6',
        stream: true,
        temperature: 0.3,
        messages: [
          { role: 'system', content: 'terse' },
          { role: 'user', content: 'hi' },
        ],
        tools: [{ type: 'web_search' }, { type: 'function', function: { name: 'f' } }],
        tool_choice: 'auto',
      });
      expect(sim.requests).toHaveLength(0);
      expect(errorOf(await call('glm_payload_preview', { prompt: 'x', model: 'kimi-k2' })).code).toBe(
        'INVALID_ARGUMENTS',
      );
    });
  });
});
