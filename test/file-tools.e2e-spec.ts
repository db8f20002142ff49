import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulatorHarness } from './support/simulator-harness';

/** The file tools through a real daemon, against the simulator's Files API. */
describe('file tools', () => {
  const root = mkdtempSync(join(tmpdir(), 'exai-files-'));
  const outside = mkdtempSync(join(tmpdir(), 'exai-outside-'));
  writeFileSync(join(root, 'a.md'), '# A\nalpha');
  writeFileSync(join(root, 'b.ts'), 'export const b = 2;\n');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(1024 * 1024 + 1, 1));
  writeFileSync(join(root, '.env'), 'SECRET=1');
  writeFileSync(join(outside, 'x.txt'), 'outside');
  symlinkSync(join(outside, 'x.txt'), join(root, 'link.txt'));
  const { sim, call, ok, errorOf } = simulatorHarness({
    EXAI_FILE_ROOTS: root,
    EXAI_UPLOAD_MAX_FILES: '3',
    EXAI_UPLOAD_MAX_FILE_MB: '1',
  });
  const uploads = () => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/files'));

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('kimi_upload_files uploads files under the roots and reuses an unchanged upload', async () => {
    const first = JSON.parse(
      ok(await call('kimi_upload_files', { files: [join(root, 'a.md'), join(root, 'b.ts')] })).content,
    ) as Array<Record<string, unknown>>;
    expect(first.map((u) => [u.filename, u.size_bytes, u.deduplicated])).toEqual([
      ['a.md', 9, false],
      ['b.ts', 20, false],
    ]);
    expect(sim.files.list('kimi').map((f) => [f.filename, f.purpose, f.bytes.toString()])).toEqual([
      ['a.md', 'file-extract', '# A\nalpha'],
      ['b.ts', 'file-extract', 'export const b = 2;\n'],
    ]);
    const again = JSON.parse(
      ok(await call('kimi_upload_files', { files: [join(root, 'a.md')], purpose: 'assistants' })).content,
    ) as Array<Record<string, unknown>>;
    expect(again[0]).toMatchObject({ file_id: first[0].file_id, deduplicated: true });
    expect(uploads()).toHaveLength(2);
  });

  it('refuses paths outside the roots, through symlinks, secrets, folders, too many and too big files, uploading nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [[join(outside, 'x.txt')], /outside the readable folders/],
      [[join(root, 'link.txt')], /outside the readable folders/],
      [[join(root, '.env')], /looks like a secret/],
      [[root], /is a directory/],
      [[join(root, 'missing.md')], /does not exist/],
      [[join(root, 'big.bin')], /over the 1048576-byte limit/],
      [[join(root, 'a.md'), join(root, 'b.ts'), join(root, 'a.md'), join(root, 'b.ts')], /at most 3/],
      [['a.md'], /not an absolute path/],
    ];
    for (const [files, message] of cases) {
      const error = errorOf(await call('kimi_upload_files', { files }));
      expect([files, error.code, error.message]).toEqual([files, 'INVALID_ARGUMENTS', expect.stringMatching(message)]);
    }
    expect(uploads()).toHaveLength(0);
  });

  it("kimi_chat_with_files sends each file's extracted text as a system message, then the prompt", async () => {
    const [a] = JSON.parse(ok(await call('kimi_upload_files', { files: [join(root, 'a.md')] })).content) as Array<{
      file_id: string;
    }>;
    const out = ok(await call('kimi_chat_with_files', { prompt: 'summarise', file_ids: [a.file_id] }));
    expect(out.metadata).toMatchObject({ provider: 'KIMI', model: 'kimi-k2-turbo-preview', file_ids: [a.file_id] });
    const chat = sim.requests.find((r) => r.path.endsWith('/chat/completions'))!.body as Record<string, unknown>;
    expect(chat).toMatchObject({ temperature: 0.3 });
    expect(chat.messages).toEqual([
      { role: 'system', content: '# A\nalpha' },
      { role: 'user', content: 'summarise' },
    ]);
    const missing = errorOf(await call('kimi_chat_with_files', { prompt: 'x', file_ids: ['nope'] }));
    expect(missing).toMatchObject({ code: 'PROVIDER_ERROR', message: expect.stringContaining('nope') });
    expect(errorOf(await call('kimi_chat_with_files', { prompt: 'x', file_ids: ['f'], model: 'glm-4.6' })).code).toBe(
      'INVALID_ARGUMENTS',
    );
  });

  it('kimi_manage_files lists and deletes; cleanups need confirm or dry_run; cleanup_orphaned is refused', async () => {
    const up = JSON.parse(
      ok(await call('kimi_upload_files', { files: [join(root, 'a.md'), join(root, 'b.ts')] })).content,
    ) as Array<{ file_id: string }>;
    const list = JSON.parse(ok(await call('kimi_manage_files', { operation: 'list' })).content) as Record<
      string,
      unknown
    >;
    expect(list).toMatchObject({ operation: 'list', count: 2 });
    for (const op of ['cleanup_all', 'cleanup_expired']) {
      expect(errorOf(await call('kimi_manage_files', { operation: op })).message).toContain('confirm: true');
    }
    expect(
      errorOf(await call('kimi_manage_files', { operation: 'cleanup_orphaned', confirm: true })).message,
    ).toContain('Supabase');
    const dry = JSON.parse(
      ok(await call('kimi_manage_files', { operation: 'cleanup_all', dry_run: true })).content,
    ) as Record<string, unknown>;
    expect(dry).toMatchObject({ dry_run: true, count: 2 });
    expect(sim.files.list('kimi')).toHaveLength(2);
    const expired = JSON.parse(
      ok(await call('kimi_manage_files', { operation: 'cleanup_expired', confirm: true })).content,
    ) as Record<string, unknown>;
    expect(expired).toMatchObject({ deleted_count: 0 });
    const deleted = JSON.parse(
      ok(await call('kimi_manage_files', { operation: 'delete', file_id: up[0].file_id })).content,
    ) as Record<string, unknown>;
    expect(deleted).toEqual({ operation: 'delete', file_id: up[0].file_id, deleted: true });
    const all = JSON.parse(
      ok(await call('kimi_manage_files', { operation: 'cleanup_all', confirm: true })).content,
    ) as Record<string, unknown>;
    expect(all).toMatchObject({ deleted_count: 1, deleted: [up[1].file_id], failed: [] });
    expect(sim.files.list('kimi')).toEqual([]);
    // The dedupe cache forgot the deleted files: uploading again really uploads.
    const again = JSON.parse(ok(await call('kimi_upload_files', { files: [join(root, 'a.md')] })).content) as Array<
      Record<string, unknown>
    >;
    expect(again[0].deduplicated).toBe(false);
  });

  it('glm_upload_file uploads one file with purpose agent', async () => {
    const out = JSON.parse(ok(await call('glm_upload_file', { file: join(root, 'b.ts') })).content) as Record<
      string,
      unknown
    >;
    expect(out).toMatchObject({ filename: 'b.ts', size_bytes: 20, deduplicated: false });
    expect(sim.files.list('glm').map((f) => [f.id, f.purpose])).toEqual([[out.file_id, 'agent']]);
    expect(errorOf(await call('glm_upload_file', { file: join(outside, 'x.txt') })).code).toBe('INVALID_ARGUMENTS');
  });

  it('chat embeds files under the roots with line numbers; the thread keeps only their names', async () => {
    const first = ok(await call('chat', { prompt: 'review this', files: [join(root, 'b.ts')] }));
    const glmBodies = () =>
      sim.requests
        .filter((r) => r.path.endsWith('/chat/completions'))
        .map((r) => r.body as { messages: Array<{ content: string }> });
    const sent = glmBodies()[0].messages.at(-1)!.content;
    expect(sent).toContain(`--- BEGIN FILE: ${join(root, 'b.ts')} ---`);
    expect(sent).toContain('   1│ export const b = 2;');
    ok(await call('chat', { prompt: 'and now?', continuation_id: first.metadata.continuation_id }));
    const history = glmBodies()[1].messages;
    expect(history[0].content).toBe(`review this\n\n[files embedded: ${join(root, 'b.ts')}]`);
    expect(errorOf(await call('chat', { prompt: 'x', files: [join(outside, 'x.txt')] })).code).toBe(
      'INVALID_ARGUMENTS',
    );
  });
});
