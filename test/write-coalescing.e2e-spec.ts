import WebSocket from 'ws';
import { DaemonProcess, startDaemonProcess } from './support/daemon-process';
import { waitFor } from './support/wait';

/** One WebSocket message and the TCP read that carried it (counted from 1). */
interface Arrival {
  frame: { op: string; request_id?: string; note?: string };
  read: number;
}

/**
 * A real `ws` client that also counts the TCP reads under it: its 'data'
 * listener is attached before ws's own, so each message is tagged with the
 * read it came in.
 */
async function countingClient(url: string): Promise<{ ws: WebSocket; arrivals: Arrival[] }> {
  const ws = new WebSocket(url);
  const arrivals: Arrival[] = [];
  let reads = 0;
  ws.once('upgrade', (res) => res.socket.on('data', () => reads++));
  ws.on('message', (data) =>
    arrivals.push({ frame: JSON.parse((data as Buffer).toString()) as Arrival['frame'], read: reads }),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ op: 'hello' }));
  await waitFor(() => arrivals.some((a) => a.frame.op === 'hello_ack'), 10_000, 'hello_ack');
  return { ws, arrivals };
}

const CALLS = 20;

/** The call's frames, each once and in protocol order (a call over the session's limit also says it is queued, between accepted and ack). */
function expectWholeAndInOrder(arrivals: Arrival[], id: string): void {
  const mine = arrivals.filter((a) => a.frame.request_id === id && a.frame.note !== 'queued');
  expect(mine.map((a) => [a.frame.op, a.frame.note])).toEqual([
    ['progress', 'accepted'],
    ['call_tool_ack', undefined],
    ['call_tool_res', undefined],
  ]);
}

describe('the frames a call sends in one turn', () => {
  // Its own process, so the daemon's writes are not held back by the client
  // sharing its event loop: separate writes can then be seen as separate reads.
  let daemon: DaemonProcess;
  beforeAll(async () => {
    daemon = await startDaemonProcess({ EXAI_WS_TOKEN: '' });
  });
  afterAll(() => {
    daemon?.child.kill('SIGKILL');
  });

  it('leave in one socket write, yet arrive as separate messages in protocol order', async () => {
    const { ws, arrivals } = await countingClient(daemon.url);
    try {
      // `version` is answered at once (no permit, no model): its progress, ack
      // and result are all ready in the turn that read the call.
      for (let i = 0; i < CALLS; i++) {
        const id = `v${i}`;
        ws.send(JSON.stringify({ op: 'call_tool', request_id: id, name: 'version' }));
        await waitFor(
          () => arrivals.some((a) => a.frame.op === 'call_tool_res' && a.frame.request_id === id),
          10_000,
          id,
        );
      }
      for (let i = 0; i < CALLS; i++) {
        const mine = arrivals.filter((a) => a.frame.request_id === `v${i}`);
        expect(mine.map((a) => [a.frame.op, a.frame.note])).toEqual([
          ['progress', 'accepted'],
          ['call_tool_ack', undefined],
          ['call_tool_res', undefined],
        ]);
        // One TCP read carried all three: the daemon wrote them together.
        expect(new Set(mine.map((a) => a.read)).size).toBe(1);
      }
    } finally {
      ws.close();
    }
  });

  it('reach every caller whole and in order while several connections call at once', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => countingClient(daemon.url)));
    try {
      const idsOf = (c: number) => Array.from({ length: 15 }, (_, i) => `m${c}-${i}`);
      // Every connection sends all its calls at once, so the daemon serves
      // several sockets per turn (frames held to the turn's end) as well as
      // lone ones (let out as soon as their result is queued).
      clients.forEach(({ ws }, c) => {
        for (const id of idsOf(c)) ws.send(JSON.stringify({ op: 'call_tool', request_id: id, name: 'version' }));
      });
      await Promise.all(
        clients.map(({ arrivals }, c) =>
          waitFor(
            () =>
              idsOf(c).every((id) => arrivals.some((a) => a.frame.op === 'call_tool_res' && a.frame.request_id === id)),
            20_000,
            `results of connection ${c}`,
          ),
        ),
      );
      clients.forEach(({ arrivals }, c) => {
        for (const id of idsOf(c)) expectWholeAndInOrder(arrivals, id);
      });
    } finally {
      for (const { ws } of clients) ws.close();
    }
  });

  it('keep each call in order when several calls arrive in one read', async () => {
    const { ws, arrivals } = await countingClient(daemon.url);
    try {
      const ids = ['p0', 'p1', 'p2', 'p3'];
      // One send per frame, corked together on the client, so the daemon reads them in one chunk.
      const raw = (ws as unknown as { _socket: import('node:net').Socket })._socket;
      raw.cork();
      for (const id of ids) ws.send(JSON.stringify({ op: 'call_tool', request_id: id, name: 'version' }));
      raw.uncork();
      await waitFor(
        () => ids.every((id) => arrivals.some((a) => a.frame.op === 'call_tool_res' && a.frame.request_id === id)),
        10_000,
        'all results',
      );
      for (const id of ids) expectWholeAndInOrder(arrivals, id);
    } finally {
      ws.close();
    }
  });
});
