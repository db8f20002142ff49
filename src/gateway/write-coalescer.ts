import { Logger } from '@nestjs/common';
import type { Writable } from 'node:stream';

/**
 * Lets the frames a connection sends in one turn of the event loop out in
 * one socket write. A no-op call's progress, ack and result are all ready in
 * the same turn (the admission and the tool settle as microtasks), and three
 * writes cost three syscalls; corked, they leave together as one writev, each
 * still its own WebSocket frame, in the order they were sent. The sockets are
 * uncorked in the check phase right after the I/O that produced the frames,
 * so nothing waits on a timer; a lone exchange's socket even earlier, as
 * soon as its last frame is queued (see `answered`).
 *
 * The flush is queued for the check phase only once the turn's promise chains
 * have run (a nextTick runs after the microtask queue drains), so it comes
 * after the check-phase work those chains queued. That is where undici writes
 * a request on a reused keep-alive connection (it yields one setImmediate to
 * see whether the server closed the idle socket first): a chat call's
 * upstream request leaves before its ack and progress frames, and the
 * provider starts on it while the daemon is still writing to the client.
 */
export class WriteCoalescer {
  private readonly logger = new Logger(WriteCoalescer.name);
  /** At most one entry per open connection, cleared every turn. */
  private readonly held = new Set<Writable>();
  private scheduled = false;
  /** Sockets held in this turn, and in the last finished one: more than one means the daemon is busy. */
  private turnSockets = 0;
  private lastTurnSockets = 0;
  private flushing: NodeJS.Immediate | undefined;
  private readonly schedule = () => {
    this.flushing = setImmediate(() => this.flush());
  };

  /** Work that waits for this turn's writes; drained by every flush. */
  private after: Array<() => void> = [];

  /** Holds `socket`'s writes until the end of this turn (once per turn however often it is called). */
  hold(socket: Writable): void {
    if (this.held.has(socket) || socket.destroyed) return;
    socket.cork();
    this.held.add(socket);
    this.turnSockets++;
    this.scheduleFlush();
  }

  /**
   * A frame that ends an exchange (a call's result, the answer to a request)
   * was queued on `socket`. While the daemon answers one exchange at a time
   * (no other socket wrote in this turn or the last), its writes leave now,
   * before the rest of the turn's work (the call's release, its teardown):
   * nothing else would join this write. When it is busy, they wait for the
   * end of the turn with the others, so one turn still makes one write per
   * socket and its peers wake once for the lot.
   */
  answered(socket: Writable): void {
    if (this.turnSockets > 1 || this.lastTurnSockets > 1) return;
    if (this.held.delete(socket)) socket.uncork();
  }

  /**
   * Runs `task` right after this turn's writes have left: bookkeeping that
   * no frame waits for (a finished call's metrics, activity and log line)
   * stays off the round trip. A task that throws is logged and the others
   * still run: here, outside any call, a throw would end the process.
   */
  afterFlush(task: () => void): void {
    this.after.push(task);
    this.scheduleFlush();
  }

  /** Lets every held socket's writes out now, then runs the work that waited for them. */
  flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    this.scheduled = false;
    this.lastTurnSockets = this.turnSockets;
    this.turnSockets = 0;
    for (const socket of this.held) socket.uncork();
    this.held.clear();
    const tasks = this.after;
    if (tasks.length === 0) return;
    this.after = [];
    for (const task of tasks) {
      try {
        task();
      } catch (err) {
        this.logger.error({ msg: 'Work after a write failed', err });
      }
    }
  }

  private scheduleFlush(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(this.schedule);
  }
}
