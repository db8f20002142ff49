#!/usr/bin/env node
import { runCli } from './cli.commands';
import { EXIT_CODES } from './cli.errors';

const interrupt = new AbortController();
process.on('SIGINT', () => {
  // The first Ctrl-C cancels the call on the daemon; a second one stops waiting for that.
  if (interrupt.signal.aborted) process.exit(EXIT_CODES.CANCELLED);
  interrupt.abort();
});

// `exai tools | head -1` closes the pipe early; that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(EXIT_CODES.OK);
});

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true },
  columns: process.stderr.columns,
  interrupt: interrupt.signal,
}).then((code) => {
  // On a pipe stdout can be asynchronous; exiting before it drains would cut the output.
  process.stdout.write('', () => process.exit(code));
});
