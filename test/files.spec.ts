import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAccessService, fileTokenBudget } from '../src/files/file-access.service';
import { FilesEnv, toFilesConfig } from '../src/files/files.config';
import { parseEnv } from '../src/config/validate-config';
import { InvalidArgumentsError } from '../src/tools/tools.errors';

function service(env: Record<string, string>, host = '127.0.0.1', home = '/home/someone'): FileAccessService {
  return new FileAccessService(toFilesConfig(parseEnv(FilesEnv, env), host, home));
}

async function refusal(p: Promise<unknown>): Promise<InvalidArgumentsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidArgumentsError);
  return err as InvalidArgumentsError;
}

describe('file access under EXAI_FILE_ROOTS', () => {
  let base: string;
  let root: string;
  let outside: string;

  beforeAll(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'exai-files-')));
    root = join(base, 'root');
    outside = join(base, 'outside');
    mkdirSync(join(root, 'src', 'deep'), { recursive: true });
    mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
    mkdirSync(join(root, '.hidden'), { recursive: true });
    mkdirSync(join(root, '.ssh'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(root, 'src', 'a.ts'), 'const a = 1;\r\nexport default a;\n');
    writeFileSync(join(root, 'src', 'deep', 'b.py'), 'print("b")\n');
    writeFileSync(join(root, 'src', 'notes.log'), 'not code\n');
    writeFileSync(join(root, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
    writeFileSync(join(root, '.hidden', 'x.ts'), 'hidden\n');
    writeFileSync(join(root, '.ssh', 'config'), 'Host *\n');
    writeFileSync(join(root, '.env.local'), 'TOKEN=secret\n');
    writeFileSync(join(root, 'server.pem'), '-----BEGIN-----\n');
    writeFileSync(join(root, 'id_ed25519'), 'key\n');
    writeFileSync(join(outside, 'secret.txt'), 'outside the roots\n');
    symlinkSync(join(outside, 'secret.txt'), join(root, 'innocent.txt'));
    symlinkSync(outside, join(root, 'escape-dir'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('defaults to the home directory on a loopback bind and to no roots elsewhere', () => {
    expect(toFilesConfig(parseEnv(FilesEnv, {}), '127.0.0.1', '/home/u').roots).toEqual(['/home/u']);
    expect(toFilesConfig(parseEnv(FilesEnv, {}), '0.0.0.0', '/home/u').roots).toEqual([]);
    expect(toFilesConfig(parseEnv(FilesEnv, { EXAI_FILE_ROOTS: 'none' }), '127.0.0.1', '/home/u').roots).toEqual([]);
    expect(toFilesConfig(parseEnv(FilesEnv, { EXAI_FILE_ROOTS: '/a,/b' }), '0.0.0.0').roots).toEqual(['/a', '/b']);
    expect(() => parseEnv(FilesEnv, { EXAI_FILE_ROOTS: 'relative/dir' })).toThrow(/EXAI_FILE_ROOTS/);
  });

  it('refuses a path outside the roots, naming the roots', async () => {
    const files = service({ EXAI_FILE_ROOTS: root });
    const err = await refusal(files.check([join(outside, 'secret.txt')], 'relevant_files'));
    expect(err.message).toContain('relevant_files');
    expect(err.message).toContain('outside the readable folders (EXAI_FILE_ROOTS)');
    expect(err.message).toContain(root);
  });

  it('resolves symlinks before the root check: a link inside the root pointing outside is refused', async () => {
    const files = service({ EXAI_FILE_ROOTS: root });
    const viaFile = await refusal(files.check([join(root, 'innocent.txt')], 'files_checked'));
    expect(viaFile.message).toContain(`resolves to "${join(outside, 'secret.txt')}"`);
    await refusal(files.check([join(root, 'escape-dir', 'secret.txt')], 'relevant_files'));
    await refusal(files.check([join(root, 'src', '..', '..', 'outside', 'secret.txt')], 'relevant_files'));
  });

  it('refuses secret-looking files unless allowed', async () => {
    const files = service({ EXAI_FILE_ROOTS: root });
    for (const p of ['.ssh/config', '.env.local', 'server.pem', 'id_ed25519']) {
      const err = await refusal(files.check([join(root, p)], 'relevant_files'));
      expect(err.message).toMatch(/looks like a secret/);
    }
    const allowed = service({ EXAI_FILE_ROOTS: root, EXAI_FILE_ALLOW_SECRETS: join(root, '.env.local') });
    await expect(allowed.check([join(root, '.env.local')], 'relevant_files')).resolves.toHaveLength(1);
    await refusal(allowed.check([join(root, 'server.pem')], 'relevant_files'));
  });

  it('refuses relative paths and any path when there are no roots', async () => {
    const files = service({ EXAI_FILE_ROOTS: root });
    expect((await refusal(files.check(['src/a.ts'], 'relevant_files'))).message).toMatch(/not an absolute path/);
    const none = service({}, '0.0.0.0');
    expect((await refusal(none.check([join(root, 'src', 'a.ts')], 'relevant_files'))).message).toMatch(
      /reads no files \(EXAI_FILE_ROOTS is empty/,
    );
  });

  it('expands folders to code files, skipping hidden, excluded and secret entries, sorted and de-duplicated', async () => {
    const files = service({ EXAI_FILE_ROOTS: root });
    const checked = await files.check([root, join(root, 'src', 'a.ts')], 'relevant_files');
    const expanded = await files.expand(checked, 'relevant_files');
    expect(expanded.map((p) => p.real)).toEqual([join(root, 'src', 'a.ts'), join(root, 'src', 'deep', 'b.py')]);
  });

  it('bounds the count: more files than EXAI_FILE_MAX_FILES is a clear refusal', async () => {
    const files = service({ EXAI_FILE_ROOTS: root, EXAI_FILE_MAX_FILES: '1' });
    const checked = await files.check([join(root, 'src')], 'relevant_files');
    expect((await refusal(files.expand(checked, 'relevant_files'))).message).toMatch(/more than 1 files/);
  });

  it('embeds each file with numbered lines and real newlines; over budget is code_too_large', async () => {
    const files = service({ EXAI_FILE_ROOTS: root });
    const checked = await files.check([join(root, 'src', 'a.ts'), join(root, 'missing.ts')], 'relevant_files');
    const out = await files.embed(checked, 10_000);
    if (!out.ok) throw new Error('expected embedded files');
    expect(out.embedded.text).toBe(
      `--- BEGIN FILE: ${join(root, 'src', 'a.ts')} ---\n   1│ const a = 1;\n   2│ export default a;\n--- END FILE: ${join(root, 'src', 'a.ts')} ---\n\n` +
        `--- BEGIN FILE: ${join(root, 'missing.ts')} ---\n[file not found]\n--- END FILE: ${join(root, 'missing.ts')} ---\n`,
    );
    writeFileSync(join(root, 'src', 'big.ts'), 'x'.repeat(20_000));
    const big = await files.embed(await files.check([join(root, 'src', 'big.ts')], 'relevant_files'), 1000);
    expect(big).toMatchObject({
      ok: false,
      tooLarge: { status: 'code_too_large', metadata: { total_estimated_tokens: 5000, token_budget: 1000 } },
    });
  });

  it('sizes the file budget from the context window', () => {
    expect(fileTokenBudget(128_000)).toBe(22_040);
    expect(fileTokenBudget(400_000)).toBe(127_000);
    expect(fileTokenBudget(1000)).toBe(1000);
  });
});
