// The bridge and the CLI are separate programs from the daemon; this file is
// where they read their environment, as *.config.ts files do for the daemon.

export interface ClientConfig {
  url: string;
  token: string;
  sessionId?: string;
}

export class ClientConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientConfigError';
  }
}

/**
 * EXAI_WS_URL, or EXAI_WS_HOST + EXAI_WS_PORT (defaults 127.0.0.1:8079),
 * EXAI_WS_TOKEN and EXAI_SESSION_ID.
 * @throws ClientConfigError naming the bad variable.
 */
export function readClientConfig(env: NodeJS.ProcessEnv = process.env): ClientConfig {
  let url = env.EXAI_WS_URL;
  if (!url) {
    const host = env.EXAI_WS_HOST || '127.0.0.1';
    const port = env.EXAI_WS_PORT || '8079';
    if (!/^\d+$/.test(port) || Number(port) > 65535)
      throw new ClientConfigError(`EXAI_WS_PORT="${port}" is not a port number`);
    // A daemon bound to every interface is reached on loopback from this machine.
    const reach = host === '0.0.0.0' ? '127.0.0.1' : host;
    url = `ws://${reach.includes(':') ? `[${reach}]` : reach}:${port}/`;
  }
  if (!/^wss?:\/\/\S+$/.test(url)) throw new ClientConfigError(`EXAI_WS_URL="${url}" must be a ws:// or wss:// URL`);
  const sessionId = env.EXAI_SESSION_ID || undefined;
  if (sessionId !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(sessionId)) {
    throw new ClientConfigError('EXAI_SESSION_ID must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return { url, token: env.EXAI_WS_TOKEN ?? '', sessionId };
}
