import { ResultCacheService } from '../src/gateway/result-cache.service';
import { ConversationThreadsService } from '../src/tools/conversation-threads.service';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient, toolOutput } from './support/ws-client';

const MIB = 1024 * 1024;

describe('caches and threads bounded by bytes', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'simulated',
      EXAI_RESULT_CACHE_MAX_BYTES: String(3 * MIB),
      EXAI_THREADS_MAX_BYTES: String(2 * MIB),
      EXAI_WS_GLOBAL_MAX_INFLIGHT: '10',
      EXAI_WS_SESSION_MAX_INFLIGHT: '10',
    });
  });
  afterAll(() => daemon.close());

  it('evicts the oldest results once EXAI_RESULT_CACHE_MAX_BYTES is reached, whatever the entry count', async () => {
    const c = await TestClient.ready(daemon.url);
    const text = (i: number) => `${i}`.padEnd(700 * 1024, 'r');
    for (let i = 0; i < 6; i++) {
      c.send({ op: 'call_tool', request_id: `fill-${i}`, name: 'test_echo', arguments: { text: text(i) } });
      expect((await c.result(`fill-${i}`, 10_000)).error).toBeUndefined();
    }
    const cache = await daemon.app.get(ResultCacheService).stats();
    expect(cache.results.bytes).toBeLessThanOrEqual(3 * MIB);
    expect(cache.replays.bytes).toBeLessThanOrEqual(3 * MIB);
    const runsBefore = daemon.probe.runs.get('test_echo') ?? 0;
    c.send({ op: 'call_tool', request_id: 'again-last', name: 'test_echo', arguments: { text: text(5) } });
    expect((await c.result('again-last', 10_000)).from_cache).toBe(true);
    c.send({ op: 'call_tool', request_id: 'again-first', name: 'test_echo', arguments: { text: text(0) } });
    const first = await c.result('again-first', 10_000);
    expect(first.from_cache).toBeUndefined();
    expect(daemon.probe.runs.get('test_echo')).toBe(runsBefore + 1);
    c.close();
  });

  it('keeps conversation threads within EXAI_THREADS_MAX_BYTES', async () => {
    const c = await TestClient.ready(daemon.url);
    const prompt = (i: number) => `question ${i} `.padEnd(400 * 1024, 'p');
    for (let i = 0; i < 12; i++) {
      c.send({ op: 'call_tool', request_id: `chat-${i}`, name: 'chat', arguments: { prompt: prompt(i) } });
      const res = await c.result(`chat-${i}`, 20_000);
      expect(res.error).toBeUndefined();
    }
    const threads = await daemon.app.get(ConversationThreadsService).stats();
    expect(threads.bytes).toBeLessThanOrEqual(2 * MIB);
    expect(threads.entries).toBeGreaterThan(0);
    c.close();
  }, 60_000);

  it('refuses a prompt larger than the target model’s context window before admission', async () => {
    const c = await TestClient.ready(daemon.url);
    // ~150k tokens (chars / 4) against GLM's 128k window.
    c.send({
      op: 'call_tool',
      request_id: 'too-long',
      name: 'chat',
      arguments: { prompt: 'w'.repeat(600 * 1024), model: 'glm-4.5-flash' },
    });
    const frames = await c.callFrames('too-long', 10_000);
    expect(frames).toHaveLength(1);
    expect(frames[0].error).toMatchObject({
      code: 'INVALID_ARGUMENTS',
      details: { model: 'glm-4.5-flash', context_window_tokens: 128000 },
    });
    expect((frames[0].error as { message: string }).message).toMatch(/^Prompt too long for glm-4\.5-flash/);
    // The same prompt on auto routes to Kimi's long-context model, which fits it.
    c.send({ op: 'call_tool', request_id: 'routed', name: 'chat', arguments: { prompt: 'w'.repeat(600 * 1024) } });
    const routed = await c.result('routed', 20_000);
    expect(routed.error).toBeUndefined();
    expect(toolOutput(routed).metadata.provider).toBe('KIMI');
    c.close();
  });
});
