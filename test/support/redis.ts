import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';

/** A real redis-server on a free loopback port, without persistence. */
export class TestRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dataDir?: string,
  ) {}

  /** With `dataDir`, every write is fsynced to an append-only file there, so a restart keeps the data. */
  static async start(port?: number, dataDir?: string): Promise<TestRedis> {
    const redis = new TestRedis(port ?? (await freePort()), dataDir);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''],
        ...(this.dataDir
          ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dataDir]
          : ['--appendonly', 'no']),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`redis-server could not run (${err.message}); install it: apt-get install -y redis-server`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${out}`));
      });
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing answers, as with a hung or partitioned Redis. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Expiry scores (ms since epoch) of every member of one limit key, read straight from Redis. */
export async function limitScores(url: string, limitKey: string): Promise<number[]> {
  const admin = new Redis(url);
  try {
    const flat = await admin.zrange(`{exai}:limit:${limitKey}`, 0, -1, 'WITHSCORES');
    return flat.filter((_, i) => i % 2 === 1).map(Number);
  } finally {
    admin.disconnect();
  }
}
