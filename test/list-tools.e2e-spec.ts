import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';

type Schema = Record<string, unknown>;

/** Every property path in a schema, nested objects and array items included, that has no description. */
function undescribed(schema: Schema, path: string): string[] {
  const out: string[] = [];
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const [name, prop] of Object.entries(properties)) {
    const at = `${path}.${name}`;
    if (typeof prop.description !== 'string' || prop.description.trim() === '') out.push(at);
    out.push(...undescribed(prop, at));
    const items = prop.items as Schema | undefined;
    if (items && typeof items === 'object' && !Array.isArray(items)) out.push(...undescribed(items, `${at}[]`));
  }
  return out;
}

describe('list_tools', () => {
  let d: TestDaemon;
  let tools: Array<{ name: string; description: string; inputSchema: Schema }>;

  beforeAll(async () => {
    d = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated', EXAI_DIAGNOSTICS: 'true' });
    const c = await TestClient.ready(d.url);
    c.send({ op: 'list_tools', request_id: 'l' });
    tools = (await c.next((f) => f.op === 'list_tools_res')).tools as typeof tools;
    c.close();
  });
  afterAll(() => d.close());

  it('describes every property of every built-in tool', () => {
    const ours = tools.filter((t) => !t.name.startsWith('test_'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.flatMap((t) => undescribed(t.inputSchema, t.name))).toEqual([]);
    for (const t of ours) expect([t.name, t.description.length > 20]).toEqual([t.name, true]);
  });

  it('lists the available models and aliases in every model property', () => {
    const withModel = tools.filter((t) => (t.inputSchema.properties as Record<string, Schema>)?.model);
    expect(withModel.map((t) => t.name)).toEqual(expect.arrayContaining(['chat', 'kimi_chat_with_tools', 'version']));
    for (const t of withModel) {
      const description = String((t.inputSchema.properties as Record<string, Schema>).model.description);
      for (const name of ['auto', 'glm-4.5-flash', 'kimi-k2-0711-preview', 'kimi-k2-0905-preview', 'moonshot-v1-8k']) {
        expect([t.name, description.includes(name)]).toEqual([t.name, true]);
      }
      expect(description).toContain('kimi-k2 → kimi-k2-0905-preview');
      expect(description).toContain('glm-4.5-x → glm-4.5-air');
    }
  });

  it('shows self-check only with EXAI_DIAGNOSTICS=true', async () => {
    expect(tools.map((t) => t.name)).toContain('self-check');
    const plain = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' });
    try {
      const c = await TestClient.ready(plain.url);
      c.send({ op: 'list_tools', request_id: 'l' });
      const names = ((await c.next((f) => f.op === 'list_tools_res')).tools as Array<{ name: string }>).map(
        (t) => t.name,
      );
      expect(names).not.toContain('self-check');
      c.send({ op: 'call_tool', request_id: 's', name: 'self-check', arguments: {} });
      expect(((await c.result('s')).error as { code: string }).code).toBe('TOOL_NOT_FOUND');
      c.close();
    } finally {
      await plain.close();
    }
  });
});
