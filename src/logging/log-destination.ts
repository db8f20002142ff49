import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { loggingConfig } from './logging.config';

/** Lines waiting above this are written at once, whatever the flush interval. */
const BATCH_BYTES = 4096;
/** What may wait unwritten while stdout does not keep up; lines beyond it are dropped, not queued without end. */
const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/**
 * Where JSON lines go: stdout, asynchronously, gathered. Every asynchronous
 * write is a round trip through libuv's thread pool (a worker woken, then the
 * main loop woken again), and one per line was the daemon's largest cost
 * after its socket writes; gathered for LOG_FLUSH_MS (or until 4 KiB wait), a
 * busy second costs tens of writes instead of thousands. What still waits is
 * written at shutdown, and by pino when the process exits, crash included.
 */
@Injectable()
export class LogDestination implements OnApplicationShutdown {
  /** Undefined for the pretty format, whose transport writes from its own worker. */
  readonly stream: (DestinationStream & { flush(): void }) | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(@Inject(loggingConfig.KEY) config: ConfigType<typeof loggingConfig>) {
    if (config.format !== 'json') return;
    const gather = config.flushMs > 0;
    const stream = pino.destination({
      dest: 1,
      sync: false,
      minLength: gather ? BATCH_BYTES : 0,
      maxLength: MAX_WAITING_BYTES,
    });
    this.stream = stream;
    if (gather) {
      this.timer = setInterval(() => stream.flush(), config.flushMs);
      this.timer.unref();
    }
  }

  /** Writes what waits now (the start-up lines, which an operator watches for). */
  flush(): void {
    this.stream?.flush();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
