import WebSocket from 'ws';

// WebSocket helpers shared by the sections that talk to a daemon.

export function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

export function request(ws: WebSocket, frame: string, done: (msg: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      if (done((data as Buffer).toString())) {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
    ws.send(frame);
  });
}

export async function helloed(url: string, session: string): Promise<WebSocket> {
  const ws = await open(url);
  await request(ws, JSON.stringify({ op: 'hello', session_id: session }), (m) => m.includes('hello_ack'));
  return ws;
}
