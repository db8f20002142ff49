import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { realpathSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, sep } from 'node:path';
import { InvalidArgumentsError } from '../tools/tools.errors';
import { filesConfig } from './files.config';
import { EXCLUDED_DIRS, INCLUDED_EXTENSIONS, isSecretLooking } from './file-rules';

/** A path the caller named, checked and resolved through every symlink. */
export interface CheckedPath {
  requested: string;
  real: string;
  exists: boolean;
  directory: boolean;
}

export interface EmbeddedFiles {
  /** The files block: BEGIN/END markers, numbered lines, real newlines. */
  text: string;
  files: string[];
  tokens: number;
}

/** The old daemon's answer for content that does not fit the model's file budget. */
export interface CodeTooLarge {
  status: 'code_too_large';
  content: string;
  metadata: { total_estimated_tokens: number; token_budget: number; files: number };
}

export type EmbedOutcome = { ok: true; embedded: EmbeddedFiles } | { ok: false; tooLarge: CodeTooLarge };

/** Rough token estimate, the same chars/4 the routing uses. */
export function tokensOf(chars: number): number {
  return Math.ceil(chars / 4);
}

/**
 * Tokens of file content a model with this context window may receive: a share
 * of the window that leaves room for the conversation and the answer (bigger
 * windows give files a bigger share), less a margin for the prompt around it.
 */
export function fileTokenBudget(contextTokens: number): number {
  const share = contextTokens >= 300_000 ? 0.8 * 0.4 : 0.6 * 0.3;
  return Math.max(1000, Math.floor(contextTokens * share) - 1000);
}

/**
 * The one way tools read files named by an agent: only under EXAI_FILE_ROOTS,
 * after resolving symlinks, never secret-looking files unless allowed, bounded
 * by count and bytes, and embedded whole or not at all.
 */
@Injectable()
export class FileAccessService {
  private readonly realRoots: string[];
  private readonly realSecretAllow: string[];

  constructor(@Inject(filesConfig.KEY) private readonly config: ConfigType<typeof filesConfig>) {
    // Roots are compared by their real location, so a root that is itself a
    // symlink (e.g. /tmp on some systems) still contains its files.
    this.realRoots = config.roots.map(realOrSelf);
    this.realSecretAllow = config.allowSecrets.map(realOrSelf);
  }

  get roots(): readonly string[] {
    return this.config.roots;
  }

  /**
   * Checks every path of one argument field. Nothing is dropped: the first bad
   * path fails the call, naming the field, the path and the readable roots.
   * @throws InvalidArgumentsError
   */
  async check(paths: readonly string[], field: string): Promise<CheckedPath[]> {
    if (paths.length > this.config.maxFiles) {
      throw new InvalidArgumentsError(
        `${field} names ${paths.length} paths; at most ${this.config.maxFiles} (EXAI_FILE_MAX_FILES) are read per call`,
        { field, count: paths.length, max: this.config.maxFiles },
      );
    }
    const out: CheckedPath[] = [];
    for (const requested of paths) out.push(await this.checkOne(requested, field));
    return out;
  }

  /**
   * Files named directly plus the code and text files under named folders
   * (hidden and build folders skipped, symlinks inside folders not followed),
   * de-duplicated and sorted within each folder.
   * @throws InvalidArgumentsError when the result exceeds EXAI_FILE_MAX_FILES.
   */
  async expand(paths: readonly CheckedPath[], field: string): Promise<CheckedPath[]> {
    const seen = new Set<string>();
    const out: CheckedPath[] = [];
    const add = (p: CheckedPath) => {
      if (seen.has(p.real)) return;
      seen.add(p.real);
      if (out.length >= this.config.maxFiles) {
        throw new InvalidArgumentsError(
          `${field} expands to more than ${this.config.maxFiles} files (EXAI_FILE_MAX_FILES); name fewer files or narrower folders`,
          { field, max: this.config.maxFiles },
        );
      }
      out.push(p);
    };
    for (const p of paths) {
      if (!p.directory) {
        add(p);
        continue;
      }
      for (const file of await this.walk(p.real)) add({ requested: file, real: file, exists: true, directory: false });
    }
    return out;
  }

  /**
   * Reads the files into one block within `budgetTokens`. Content that does not
   * fit is not truncated: the caller gets the `code_too_large` answer instead.
   */
  async embed(paths: readonly CheckedPath[], budgetTokens: number, signal?: AbortSignal): Promise<EmbedOutcome> {
    const sizes = await Promise.all(paths.map((p) => sizeOf(p)));
    const estimated = tokensOf(sizes.reduce((a, b) => a + Math.min(b, this.config.maxFileBytes), 0));
    if (estimated > budgetTokens) return { ok: false, tooLarge: this.tooLarge(estimated, budgetTokens, paths.length) };
    const totalBytes = sizes.reduce((a, b) => a + b, 0);
    if (totalBytes > this.config.maxTotalBytes) {
      return { ok: false, tooLarge: this.tooLarge(estimated, budgetTokens, paths.length) };
    }
    const blocks: string[] = [];
    for (const [i, p] of paths.entries()) {
      signal?.throwIfAborted();
      blocks.push(await this.block(p, sizes[i]));
    }
    const text = blocks.join('\n');
    const tokens = tokensOf(text.length);
    if (tokens > budgetTokens) return { ok: false, tooLarge: this.tooLarge(tokens, budgetTokens, paths.length) };
    return { ok: true, embedded: { text, files: paths.map((p) => p.requested), tokens } };
  }

  private async checkOne(requested: string, field: string): Promise<CheckedPath> {
    if (typeof requested !== 'string' || requested.trim() === '') {
      throw new InvalidArgumentsError(`${field}: every path must be a non-empty string`, { field });
    }
    if (!isAbsolute(requested)) {
      throw new InvalidArgumentsError(
        `${field}: "${requested}" is not an absolute path; send full paths (the daemon's working directory means nothing to the caller)`,
        { field, path: requested },
      );
    }
    if (this.realRoots.length === 0) {
      throw new InvalidArgumentsError(
        `${field}: "${requested}" cannot be read: this daemon reads no files (EXAI_FILE_ROOTS is empty; on a non-loopback bind paths name files on the caller's machine, not the daemon's)`,
        { field, path: requested, roots: [] },
      );
    }
    const { real, exists } = await resolveReal(requested);
    if (!this.realRoots.some((root) => within(root, real))) {
      const shown = real === requested ? '' : ` (resolves to "${real}")`;
      throw new InvalidArgumentsError(
        `${field}: "${requested}"${shown} is outside the readable folders (EXAI_FILE_ROOTS): ${this.config.roots.join(', ')}`,
        { field, path: requested, resolved: real, roots: this.config.roots },
      );
    }
    if ((isSecretLooking(requested) || isSecretLooking(real)) && !this.secretAllowed(real)) {
      throw new InvalidArgumentsError(
        `${field}: "${requested}" looks like a secret (.ssh/, .gnupg/, .env*, *.pem, id_* …) and is not read; list it in EXAI_FILE_ALLOW_SECRETS to allow it`,
        { field, path: requested },
      );
    }
    const directory = exists ? (await stat(real)).isDirectory() : false;
    return { requested, real, exists, directory };
  }

  private secretAllowed(real: string): boolean {
    return this.realSecretAllow.some((allowed) => within(allowed, real));
  }

  private async walk(dir: string): Promise<string[]> {
    const files: string[] = [];
    // Entries visited, not files kept: a huge tree of excluded files must not
    // make one call walk forever either.
    let budget = this.config.maxFiles * 50;
    const visit = async (current: string): Promise<void> => {
      const entries = (await readdir(current, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
      for (const entry of entries) {
        if (--budget < 0) {
          throw new InvalidArgumentsError(
            `"${dir}" holds too many entries to expand; name the files or narrower folders`,
            { path: dir },
          );
        }
        if (entry.name.startsWith('.')) continue;
        const full = join(current, entry.name);
        if (entry.isDirectory()) {
          if (!EXCLUDED_DIRS.has(entry.name)) await visit(full);
        } else if (entry.isFile()) {
          if (INCLUDED_EXTENSIONS.has(extname(entry.name).toLowerCase()) && !isSecretLooking(full)) files.push(full);
        }
        if (files.length > this.config.maxFiles) return;
      }
    };
    await visit(dir);
    return files;
  }

  private async block(p: CheckedPath, size: number): Promise<string> {
    const begin = `--- BEGIN FILE: ${p.requested} ---`;
    const end = `--- END FILE: ${p.requested} ---`;
    if (!p.exists) return `${begin}\n[file not found]\n${end}\n`;
    if (p.directory) return `${begin}\n[a directory, not a file]\n${end}\n`;
    if (size > this.config.maxFileBytes) {
      return `${begin}\n[file too large: ${size} bytes, over EXAI_FILE_MAX_FILE_BYTES=${this.config.maxFileBytes}]\n${end}\n`;
    }
    let text: string;
    try {
      text = (await readFile(p.real, 'utf8')).replace(/\r\n?/g, '\n');
    } catch (err) {
      return `${begin}\n[unreadable: ${(err as NodeJS.ErrnoException).code ?? 'error'}]\n${end}\n`;
    }
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const lines = text.split('\n');
    const width = Math.max(4, String(lines.length).length);
    const numbered = lines.map((line, i) => `${String(i + 1).padStart(width)}│ ${line}`).join('\n');
    return `${begin}\n${numbered}\n${end}\n`;
  }

  private tooLarge(tokens: number, budget: number, files: number): CodeTooLarge {
    return {
      status: 'code_too_large',
      content:
        `The files come to about ${tokens} tokens, more than the ${budget} tokens this model can take for files. ` +
        'Send fewer or smaller files (for example only the ones most relevant to this step), or choose a model with a larger context window.',
      metadata: { total_estimated_tokens: tokens, token_budget: budget, files },
    };
  }
}

/** Bytes of an existing regular file; 0 for anything that is not (or no longer) one. */
async function sizeOf(p: CheckedPath): Promise<number> {
  if (!p.exists || p.directory) return 0;
  try {
    return (await stat(p.real)).size;
  } catch {
    return 0;
  }
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * The real location of `p`. A path that does not exist (or a dangling link)
 * resolves through its deepest existing ancestor, so it is judged by where it
 * would really be; such a path is reported missing and never read.
 */
async function resolveReal(p: string): Promise<{ real: string; exists: boolean }> {
  try {
    return { real: await realpath(p), exists: true };
  } catch {
    let parent = dirname(p);
    const rest = [basename(p)];
    for (;;) {
      try {
        return { real: join(await realpath(parent), ...rest), exists: false };
      } catch {
        if (dirname(parent) === parent) return { real: p, exists: false };
        rest.unshift(basename(parent));
        parent = dirname(parent);
      }
    }
  }
}

function within(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
