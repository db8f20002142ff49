import { ProviderSimulator } from '../src/simulator/simulator.server';

/** The simulator's Files API over real HTTP, uploaded with fetch's own multipart encoder. */
describe('simulator Files API', () => {
  const sim = new ProviderSimulator({ speed: 0, fileLimits: { maxFiles: 3, maxFileBytes: 64 } });
  const base = { kimi: () => sim.kimiBaseUrl, glm: () => sim.glmBaseUrl };
  const auth = { kimi: 'Bearer sim-kimi-key', glm: 'Bearer sim-glm-key' };

  async function upload(provider: 'kimi' | 'glm', name: string, text: string, purpose: string) {
    const form = new FormData();
    form.append('purpose', purpose);
    form.append('file', new Blob([text]), name);
    const res = await fetch(`${base[provider]()}/files`, {
      method: 'POST',
      headers: { authorization: auth[provider] },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const get = async (provider: 'kimi' | 'glm', path: string, method = 'GET') => {
    const res = await fetch(`${base[provider]()}${path}`, { method, headers: { authorization: auth[provider] } });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  };

  beforeAll(() => sim.start(0, '127.0.0.1'));
  afterAll(() => sim.stop());
  beforeEach(() => sim.reset());

  it('Kimi: upload, list, retrieve, extracted content as JSON, delete, then 404', async () => {
    const up = await upload('kimi', 'notes.md', '# Notes\nhello', 'file-extract');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      object: 'file',
      bytes: 13,
      filename: 'notes.md',
      purpose: 'file-extract',
      status: 'ok',
    });
    const id = up.body.id as string;
    expect(JSON.parse((await get('kimi', '/files')).text)).toEqual({ object: 'list', data: [up.body] });
    expect(JSON.parse((await get('kimi', `/files/${id}`)).text)).toEqual(up.body);
    expect(JSON.parse((await get('kimi', `/files/${id}/content`)).text)).toMatchObject({
      content: '# Notes\nhello',
      filename: 'notes.md',
      type: 'file',
    });
    expect(JSON.parse((await get('kimi', `/files/${id}`, 'DELETE')).text)).toEqual({
      id,
      object: 'file',
      deleted: true,
    });
    const gone = await get('kimi', `/files/${id}/content`);
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.text)).toMatchObject({ error: { type: 'resource_not_found_error' } });
  });

  it('GLM: upload, list with has_more, raw content, delete', async () => {
    const up = await upload('glm', 'a.txt', 'raw bytes', 'agent');
    expect(up.body).toMatchObject({ object: 'file', bytes: 9, filename: 'a.txt', purpose: 'agent' });
    expect(up.body).not.toHaveProperty('status');
    const id = up.body.id as string;
    expect(JSON.parse((await get('glm', '/files')).text)).toEqual({ object: 'list', data: [up.body], has_more: false });
    const content = await get('glm', `/files/${id}/content`);
    expect([content.text, content.type]).toEqual(['raw bytes', 'application/octet-stream']);
    expect((await get('glm', `/files/${id}`, 'DELETE')).status).toBe(200);
    expect(JSON.parse((await get('glm', '/files')).text).data).toEqual([]);
  });

  it('refuses a bad purpose, a missing file, an oversized file and a full account, in each dialect', async () => {
    expect(await upload('kimi', 'x', 'x', 'assistants')).toMatchObject({
      status: 400,
      body: { error: { type: 'invalid_request_error' } },
    });
    expect(await upload('glm', 'x', 'y'.repeat(65), 'agent')).toMatchObject({
      status: 400,
      body: { error: { code: '1214' } },
    });
    const noFile = await fetch(`${sim.kimiBaseUrl}/files`, {
      method: 'POST',
      headers: { authorization: auth.kimi },
      body: (() => {
        const f = new FormData();
        f.append('purpose', 'file-extract');
        return f;
      })(),
    });
    expect(noFile.status).toBe(400);
    for (let i = 0; i < 3; i++) expect((await upload('kimi', `f${i}`, 'x', 'file-extract')).status).toBe(200);
    expect(await upload('kimi', 'f4', 'x', 'file-extract')).toMatchObject({ status: 400 });
    expect(JSON.parse((await get('glm', '/files')).text).data).toEqual([]);
  });

  it('needs the bearer key and the right method', async () => {
    const res = await fetch(`${sim.kimiBaseUrl}/files`);
    expect(res.status).toBe(401);
    const put = await fetch(`${sim.kimiBaseUrl}/files`, { method: 'PUT', headers: { authorization: auth.kimi } });
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, POST']);
  });
});
