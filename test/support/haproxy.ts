import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis';
import { waitFor } from './wait';

export const SHIPPED_HAPROXY_CFG = join(__dirname, '..', '..', 'deploy', 'haproxy.cfg');

/** Debian's haproxy (`apt-get install -y haproxy`; .ci/run installs it), in /usr/sbin, which a non-root PATH may lack. */
export const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

export interface Backend {
  name: string;
  port: number;
}

/**
 * The shipped deploy/haproxy.cfg with only its addresses changed: the frontend
 * binds a loopback port, the Docker DNS resolvers section goes, and each
 * server-template line (the checked daemons, and the unchecked fallback to
 * them) becomes one loopback server per backend named `<template>-<backend>`,
 * keeping its options. Every other setting (timeouts, leastconn, the
 * readiness check, retries and redispatch, the path rules) runs as shipped.
 * Each replacement must match as often as expected, so a reshaped file fails
 * here instead of being tested half-changed.
 */
export function loopbackConfig(shipped: string, bindPort: number, backends: Backend[]): string {
  const once = (text: string, pattern: RegExp, replace: (m: string[]) => string, what: string, times = 1) => {
    const all = new RegExp(pattern.source, `${pattern.flags}g`);
    const found = [...text.matchAll(all)].length;
    if (found !== times) throw new Error(`deploy/haproxy.cfg: expected ${times} ${what}, found ${found}`);
    // The callback's arguments are the match, its groups, then offset and input.
    return text.replace(all, (...args: unknown[]) => replace(args.slice(0, -2) as string[]));
  };
  let cfg = once(shipped, /^(\s*)bind :\d+$/m, (m) => `${m[1]}bind 127.0.0.1:${bindPort}`, 'frontend bind :<port>');
  cfg = once(cfg, /^resolvers docker\n(?:[ \t]+.*\n)+/m, () => '', 'resolvers docker section');
  cfg = once(
    cfg,
    /^(\s*)server-template (\S+) \S+ \S+ (.*?) ?resolvers docker init-addr none(.*)$/m,
    (m) =>
      backends
        .map(
          (b) =>
            `${m[1]}${['server', `${m[2]}-${b.name}`, `127.0.0.1:${b.port}`, m[3], m[4].trim()].filter(Boolean).join(' ')}`,
        )
        .join('\n'),
    'server-template lines',
    2,
  );
  return cfg;
}

/** `haproxy -c -f <file>`: the tool's own verdict on a config file. */
export function checkConfig(file: string): { status: number | null; output: string } {
  const run = spawnSync(HAPROXY, ['-c', '-f', file], { encoding: 'utf8', timeout: 20_000 });
  if (run.error) {
    throw new Error(`haproxy could not run (${run.error.message}); install it: apt-get install -y haproxy`);
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A real haproxy in the foreground on a loopback port, running the shipped config against loopback backends. */
export class TestHaproxy {
  private child: ChildProcess | undefined;
  private out = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(backends: Backend[]): Promise<TestHaproxy> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'exai-haproxy-'));
    const lb = new TestHaproxy(port, dir);
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, loopbackConfig(readFileSync(SHIPPED_HAPROXY_CFG, 'utf8'), port, backends));
    const check = checkConfig(file);
    if (check.status !== 0) throw new Error(`generated haproxy config is invalid: ${check.output}`);
    await lb.launch(file);
    return lb;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** What haproxy printed so far (its log goes to stdout). */
  output(): string {
    return this.out;
  }

  private async launch(file: string): Promise<void> {
    // -db: stay in the foreground, so killing this child ends haproxy.
    const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    let failed: Error | undefined;
    child.once('error', (err) => (failed = err));
    try {
      await waitFor(
        async () => {
          if (failed)
            throw new Error(`haproxy could not run (${failed.message}); install it: apt-get install -y haproxy`);
          if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}`);
          return (await fetch(`${this.httpUrl}/health/live`).catch(() => undefined))?.status === 200;
        },
        15_000,
        'haproxy serving /health/live',
      );
    } catch (err) {
      await this.stop();
      throw new Error(`${(err as Error).message}; haproxy printed: ${this.out}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
