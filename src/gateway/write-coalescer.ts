import type { Writable } from 'node:stream';

/**
 * Lets the frames a connection sends in one turn of the event loop out in
 * one socket write. A no-op call's progress, ack and result are all ready in
 * the same turn (the admission and the tool settle as microtasks), and three
 * writes cost three syscalls; corked, they leave together as one writev, each
 * still its own WebSocket frame, in the order they were sent. The sockets are
 * uncorked in the check phase right after the I/O that produced the frames,
 * so nothing waits on a timer.
 */
export class WriteCoalescer {
  /** At most one entry per open connection, cleared every turn. */
  private readonly held = new Set<Writable>();
  private flushing: NodeJS.Immediate | undefined;

  /** Holds `socket`'s writes until the end of this turn (once per turn however often it is called). */
  hold(socket: Writable): void {
    if (this.held.has(socket) || socket.destroyed) return;
    socket.cork();
    this.held.add(socket);
    this.flushing ??= setImmediate(() => this.flush());
  }

  /** Lets every held socket's writes out now. */
  flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    for (const socket of this.held) socket.uncork();
    this.held.clear();
  }
}
