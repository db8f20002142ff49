import { TestClient } from './ws-client';

/**
 * N sessions, each calling `chat` on one model back to back until stopped:
 * the continuous demand adaptive concurrency is tested under. Counts what
 * the callers saw.
 */
export class ContinuousLoad {
  ok = 0;
  failed = 0;
  readonly errors = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly clients: TestClient[] = [];

  private constructor() {}

  static async start(url: string, sessions: number, model: string, tag = 'load'): Promise<ContinuousLoad> {
    const load = new ContinuousLoad();
    for (let i = 0; i < sessions; i++) {
      const client = await TestClient.ready(url, { session_id: `${tag}-${i}` });
      load.clients.push(client);
      load.loops.push(load.loop(client, `${tag}-${i}`, model));
    }
    return load;
  }

  private async loop(client: TestClient, session: string, model: string): Promise<void> {
    for (let n = 0; this.running; n++) {
      const id = `${session}-${n}`;
      client.send({
        op: 'call_tool',
        request_id: id,
        name: 'chat',
        arguments: { prompt: `${session} call ${n}`, model },
      });
      let res;
      try {
        res = await client.result(id, 120_000);
      } catch {
        if (!this.running) return;
        throw new Error(`${id} got no result`);
      }
      const error = res.error as { code?: string } | undefined;
      if (error) {
        this.failed++;
        this.errors.set(error.code ?? '?', (this.errors.get(error.code ?? '?') ?? 0) + 1);
        // A refused call is retried after a pause, as a well-behaved agent would.
        await new Promise((r) => setTimeout(r, 200));
      } else {
        this.ok++;
      }
    }
  }

  /**
   * Stops issuing calls and closes every session: the daemon cancels what is
   * still queued or running, so the loops end at once. (Waiting for those
   * calls instead took longer than a jest hook may, with calls queued behind
   * a small adaptive limit for up to the queue timeout.)
   */
  async stop(): Promise<void> {
    this.running = false;
    for (const c of this.clients) c.close();
    await Promise.allSettled(this.loops);
  }
}
