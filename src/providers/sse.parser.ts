import { UpstreamFailure } from './providers.errors';

/**
 * Yields the payload of every `data:` event of a server-sent-events body.
 * Tolerates CRLF, `data:` without a space, comment lines and multi-line data
 * (docs/providers.md §4). Fails the attempt with a retryable `idle` failure when
 * no byte arrives for `idleMs`, so a stalled stream ends early.
 */
export async function* readSse(
  body: AsyncIterable<Uint8Array>,
  idleMs: number,
  provider: string,
): AsyncGenerator<string> {
  const reader = body[Symbol.asyncIterator]();
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  try {
    for (;;) {
      const chunk = await readWithIdle(reader, idleMs, provider);
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value ?? new Uint8Array(), { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (line.startsWith(':')) {
          continue;
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
    }
    buffer += decoder.decode();
    const tail = buffer.replace(/\r$/, '');
    if (tail.startsWith('data:')) data.push(tail.slice(5).replace(/^ /, ''));
    if (data.length > 0) yield data.join('\n');
  } finally {
    // Ending the iterator early destroys the body, closing the upstream socket.
    // Not awaited: with a read still pending (an idle stall) it would never settle.
    reader.return?.().catch(() => undefined);
  }
}

function readWithIdle(
  reader: AsyncIterator<Uint8Array>,
  idleMs: number,
  provider: string,
): Promise<IteratorResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UpstreamFailure(`${provider} stream sent nothing for ${Math.round(idleMs / 1000)}s`, 'idle', true, {
            provider,
          }),
        ),
      idleMs,
    );
  });
  return Promise.race([reader.next(), idle]).finally(() => clearTimeout(timer));
}
