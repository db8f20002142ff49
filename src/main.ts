import 'reflect-metadata';
import { exitOnSignals, PortInUseError, startDaemon } from './app.setup';
import { ConfigValidationError } from './config/validate-config';

async function main(): Promise<void> {
  try {
    exitOnSignals(await startDaemon());
  } catch (err) {
    // Written plainly: when config is invalid the structured logger never existed.
    const message =
      err instanceof ConfigValidationError || err instanceof PortInUseError
        ? err.message
        : `Failed to start: ${(err as Error)?.stack ?? String(err)}`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
}

void main();
