import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { serveBenchChild } from './bench.process';

/** The floor the daemon is compared with: a raw `ws` server echoing each message, in its own process. */
const server = createServer();
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (data) => ws.send((data as Buffer).toString())));
server.listen(0, '127.0.0.1', () => {
  serveBenchChild(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    await new Promise((r) => server.close(r));
  });
});
