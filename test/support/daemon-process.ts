import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './wait';

const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

/** A built daemon in its own process on a free loopback port, with everything it prints captured. */
export interface DaemonProcess {
  child: ChildProcess;
  url: string;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
}

/** Starts `dist/main.js` with `env` over the current environment and waits for its listening line. */
export async function startDaemonProcess(env: Record<string, string>, timeoutMs = 15_000): Promise<DaemonProcess> {
  let out = '';
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, EXAI_WS_HOST: '127.0.0.1', EXAI_WS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let url = '';
  try {
    await waitFor(
      () => {
        url = /listening on (ws:\/\/[^\s"]+)/.exec(out)?.[1] ?? '';
        return url !== '';
      },
      timeoutMs,
      'the daemon listening',
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; it printed: ${out}`, { cause: err });
  }
  return { child, url, output: () => out };
}
