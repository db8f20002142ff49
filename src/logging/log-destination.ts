import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { writeSync } from 'node:fs';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { loggingConfig } from './logging.config';

/** Lines waiting above this (in characters, at most as many bytes) are written at once, whatever the flush interval. */
const BATCH_CHARS = 4096;
/** What may wait unwritten while stdout does not keep up; lines beyond it are dropped, not queued without end. */
const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** How long a stop waits for stdout to take the last lines. */
const SHUTDOWN_DRAIN_MS = 2000;

type Stdout = ReturnType<typeof pino.destination>;

/**
 * Where JSON lines go: stdout, asynchronously, gathered. Every asynchronous
 * write is a round trip through libuv's thread pool (a worker woken, then the
 * main loop woken again), and one per line was the daemon's largest cost
 * after its socket writes; gathered for LOG_FLUSH_MS (or until 4 KiB wait), a
 * busy second costs tens of writes instead of thousands.
 *
 * The lines wait here, in a list joined once per batch, not in sonic-boom:
 * it appends each line to one growing string and measures that string's
 * byte length on every write, which copies the whole batch so far per line
 * (about 4.5 KB allocated for each ~300-byte line, one per call and per
 * connection). What still waits is written at shutdown, and at any exit,
 * crash included, after what sonic-boom holds (pino writes that first).
 */
@Injectable()
export class LogDestination implements OnApplicationShutdown {
  /** What pino writes to; undefined for the pretty format, whose transport writes from its own worker. */
  readonly stream: DestinationStream | undefined;
  private readonly out: Stdout | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private gather: boolean;
  private waiting: string[] = [];
  private waitingChars = 0;
  private readonly atExit = () => this.writeWaitingNow();

  constructor(@Inject(loggingConfig.KEY) config: ConfigType<typeof loggingConfig>) {
    this.gather = config.format === 'json' && config.flushMs > 0;
    if (config.format !== 'json') return;
    const out = pino.destination({ dest: 1, sync: false, minLength: 0, maxLength: MAX_WAITING_BYTES });
    this.out = out;
    this.stream = {
      write: (line: string) => {
        if (!this.gather) return void out.write(line);
        this.waiting.push(line);
        this.waitingChars += line.length;
        if (this.waitingChars >= BATCH_CHARS) this.flush();
      },
    };
    if (this.gather) {
      this.timer = setInterval(() => this.flush(), config.flushMs);
      this.timer.unref();
      // Added after pino.destination() registered its own exit flush, so it runs after it, keeping lines in order.
      process.on('exit', this.atExit);
    }
  }

  /** Hands what waits to stdout now (the start-up lines, which an operator watches for). */
  flush(): void {
    if (this.waiting.length === 0 || !this.out) return;
    const batch = this.waiting.length === 1 ? this.waiting[0] : this.waiting.join('');
    this.waiting = [];
    this.waitingChars = 0;
    this.out.write(batch);
  }

  /**
   * Hands over what waits and lets stdout take it before the process exits:
   * a write still in libuv's thread pool when `process.exit` runs is lost,
   * and pino's exit flush writes only what was not handed over yet. Bounded,
   * so a stdout that no longer reads cannot hold the stop.
   */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    // Lines logged after shutdown go straight out, so none is left waiting for a flush that never comes.
    this.gather = false;
    process.removeListener('exit', this.atExit);
    const out = this.out;
    if (!out || !writing(out)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        out.off('drain', done);
        resolve();
      };
      const timer = setTimeout(done, SHUTDOWN_DRAIN_MS);
      out.on('drain', done);
    });
  }

  /** At exit no asynchronous write can finish: what waits is written synchronously, or lost with stdout. */
  private writeWaitingNow(): void {
    if (this.waiting.length === 0) return;
    const bytes = Buffer.from(this.waiting.join(''));
    this.waiting = [];
    this.waitingChars = 0;
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(1, bytes, at);
    } catch {
      // stdout closed or full at exit: nothing is left to write with.
    }
  }
}

/** sonic-boom 4 has no public "writing" flag; should its private one go, a stop waits for nothing, as before. */
function writing(out: object): boolean {
  return (out as { _writing?: unknown })._writing === true;
}
