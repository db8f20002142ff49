import { fork, ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** What a bench child process answers on its IPC channel. */
export interface ChildReply {
  ready?: string;
  rss?: number;
  heapUsed?: number;
  youngGen?: number;
  heapResident?: number;
  cpuUs?: number;
}

/**
 * A bench server (daemon or raw echo) in its own process, as in production,
 * so its CPU time is not charged to the load generator and its RSS is its own.
 * Its stdout (the daemon's info log) goes to /dev/null, as to a log file.
 * BENCH_CPU_PROF=<dir> runs it under `node --cpu-prof`, written when it stops.
 */
export class BenchProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(script: string, env: Record<string, string>): Promise<BenchProcess> {
    const profDir = process.env.BENCH_CPU_PROF;
    const child = fork(join(__dirname, script), [], {
      env: { ...process.env, ...env },
      execArgv: ['--expose-gc', ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
      stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s`)), 30_000);
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
      child.once('message', (msg: ChildReply) => {
        clearTimeout(timer);
        if (msg.ready) resolve(msg.ready);
        else reject(new Error(`${script} answered ${JSON.stringify(msg)} instead of ready`));
      });
    });
    return new BenchProcess(child, url);
  }

  /**
   * RSS, heap used, the young generation's resident pages and all of V8's
   * heap spaces' resident pages, after two full GCs in the child, in bytes.
   */
  memory(): Promise<{ rss: number; heapUsed: number; youngGen: number; heapResident: number }> {
    return new Promise((resolve) => {
      this.child.once('message', (msg: ChildReply) =>
        resolve({
          rss: msg.rss ?? 0,
          heapUsed: msg.heapUsed ?? 0,
          youngGen: msg.youngGen ?? 0,
          heapResident: msg.heapResident ?? 0,
        }),
      );
      this.child.send('memory');
    });
  }

  /** CPU time (user + system) the child has used so far, in µs. */
  cpuUs(): Promise<number> {
    return new Promise((resolve) => {
      this.child.once('message', (msg: ChildReply) => resolve(msg.cpuUs ?? 0));
      this.child.send('cpu');
    });
  }

  /** Asks the child to close and exit (so a CPU profile is written), then waits for it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
}

/** The child side: answers `memory`, `cpu` and `stop` on the IPC channel, then says it is ready at `url`. */
export function serveBenchChild(url: string, close: () => Promise<void>): void {
  process.on('message', (msg: string) => {
    if (msg === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      const youngGen = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size;
      process.send?.({ rss, heapUsed, youngGen, heapResident: getHeapStatistics().total_physical_size });
    } else if (msg === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuUs: user + system });
    } else if (msg === 'stop') {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  process.send?.({ ready: url });
}
