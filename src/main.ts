import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { startDaemon } from './app.setup';
import { ConfigValidationError } from './config/validate-config';

const HARD_EXIT_MS = 10_000;

async function main(): Promise<void> {
  let app: INestApplication;
  try {
    app = await startDaemon();
  } catch (err) {
    // Printed plainly: at this point the structured logger may not exist yet.
    const message =
      err instanceof ConfigValidationError ? err.message : `Failed to start: ${(err as Error)?.stack ?? String(err)}`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // Nest's own shutdown hooks re-raise the signal (exit 143); a clean stop must exit 0.
    const hardExit = setTimeout(() => process.exit(1), HARD_EXIT_MS);
    hardExit.unref();
    app
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        process.stderr.write(`Shutdown failed after ${signal}: ${String(err)}\n`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
