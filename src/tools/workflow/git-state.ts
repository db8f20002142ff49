import { execFile } from 'node:child_process';

export interface GitStateOptions {
  /** The repository folder, already checked against the file roots. */
  cwd: string;
  compareTo?: string;
  includeStaged: boolean;
  includeUnstaged: boolean;
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
}

export interface GitSection {
  title: string;
  text: string;
}

/** A ref git takes as a revision and never as an option. */
const SAFE_REF = /^[A-Za-z0-9_][A-Za-z0-9_./@{}^~-]*$/;

export function isSafeRef(ref: string): boolean {
  return SAFE_REF.test(ref) && !ref.includes('..') && ref.length <= 200;
}

// A repository's own config must not run programs on our host: no external
// diff drivers, no textconv filters, no fsmonitor hook, no pager.
const HARDENED = ['-c', 'core.fsmonitor=false', '-c', 'core.pager=cat', '-c', 'diff.external='];
const DIFF_FLAGS = ['--no-ext-diff', '--no-textconv', '--no-color', '--stat', '--patch'];

/**
 * The changes precommit reviews, read with git as a child process: bounded in
 * time (EXAI_GIT_TIMEOUT_SECS) and output (EXAI_GIT_MAX_BYTES per command),
 * aborted with the call. An error is reported in the section, not thrown, so
 * the review still sees the rest.
 */
export async function readGitState(o: GitStateOptions): Promise<GitSection[]> {
  const runs: Array<{ title: string; args: string[] }> = [];
  if (o.compareTo) {
    runs.push({ title: `Changes against ${o.compareTo}`, args: ['diff', ...DIFF_FLAGS, o.compareTo, '--'] });
  } else {
    if (o.includeStaged) runs.push({ title: 'Staged changes', args: ['diff', '--cached', ...DIFF_FLAGS, '--'] });
    if (o.includeUnstaged) runs.push({ title: 'Unstaged changes', args: ['diff', ...DIFF_FLAGS, '--'] });
  }
  runs.unshift({ title: 'Status', args: ['status', '--porcelain=v1', '--branch', '--untracked-files=normal'] });
  const out: GitSection[] = [];
  for (const run of runs) out.push({ title: run.title, text: await git(o, run.args) });
  return out;
}

function git(o: GitStateOptions, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'git',
      [...HARDENED, '-C', o.cwd, ...args],
      {
        timeout: o.timeoutMs,
        maxBuffer: o.maxBytes,
        signal: o.signal,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout.trim() === '' ? '(none)' : stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          return resolve(`[git output over ${o.maxBytes} bytes (EXAI_GIT_MAX_BYTES); review a narrower change set]`);
        }
        if (e.killed) return resolve(`[git did not finish within ${o.timeoutMs / 1000} s]`);
        resolve(`[git failed: ${(stderr || e.message).trim().slice(0, 500)}]`);
      },
    );
  });
}
