import { request } from 'node:http';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { simulatorEnv, startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';

// What a web page, a DNS-rebinding page or a network peer gets from the HTTP
// side. Every request goes to 127.0.0.1: the "exposed" daemons are configured
// with EXAI_WS_HOST=0.0.0.0 (the decisions read the configured bind address),
// while the test harness itself always binds 127.0.0.1.

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw GET, so the Host header is exactly what the test says (fetch will not send a forged one). */
function get(url: string, headers: Record<string, string> = {}, options: { setHost?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, setHost: options.setHost ?? true, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const OPERATOR_PATHS = ['/health', '/metrics', '/status'];
const OPEN_PATHS = ['/health/live', '/health/ready'];

describe('a loopback daemon (the default)', () => {
  let daemon: TestDaemon;
  let port: string;
  beforeAll(async () => {
    daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' });
    port = new URL(daemon.httpUrl).port;
  });
  afterAll(() => daemon.close());

  it('refuses a DNS-rebinding Host on every path, found or not', async () => {
    for (const path of [...OPERATOR_PATHS, ...OPEN_PATHS, '/no-such-page']) {
      const res = await get(`${daemon.httpUrl}${path}`, { Host: `rebind.attacker.example:${port}` });
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      expect(JSON.parse(res.body)).toMatchObject({
        statusCode: 403,
        message: `Host "rebind.attacker.example:${port}" is not served here; add it to EXAI_HTTP_ALLOWED_HOSTS if it names this daemon`,
      });
      expect(res.body).not.toContain('concurrency');
    }
  });

  it('refuses a request with no Host header, and a non-loopback address on a loopback bind', async () => {
    // Node's HTTP server answers an HTTP/1.1 request without Host with 400 before any route runs.
    const noHost = await get(`${daemon.httpUrl}/health`, {}, { setHost: false });
    expect([400, 403]).toContain(noHost.status);
    expect(noHost.body).not.toContain('concurrency');
    expect((await get(`${daemon.httpUrl}/health`, { Host: `192.168.1.20:${port}` })).status).toBe(403);
  });

  it('serves loopback names: 127.0.0.1, localhost and [::1], with or without a port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '127.0.0.2']) {
      const res = await get(`${daemon.httpUrl}/health`, { Host: host });
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
    }
  });

  it('sends no X-Powered-By on any response', async () => {
    for (const path of [...OPERATOR_PATHS, ...OPEN_PATHS, '/no-such-page']) {
      const res = await get(`${daemon.httpUrl}${path}`);
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('keeps the operator endpoints open without a token on loopback', async () => {
    for (const path of OPERATOR_PATHS) expect((await get(`${daemon.httpUrl}${path}`)).status).toBe(200);
  });

  it('answers rotate_token with an empty old token as missing_params and never turns authentication on', async () => {
    const page = await TestClient.ready(daemon.url);
    page.send({ op: 'rotate_token', old: '', new: 'locked-out' });
    expect(await page.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'missing_params' });
    page.send({ op: 'rotate_token', old: 'guess', new: 'locked-out' });
    expect(await page.next()).toEqual({ op: 'rotate_token_res', ok: false, error: 'unauthorized' });
    page.close();
    // Every agent still gets in without a token.
    const agent = await TestClient.ready(daemon.url);
    agent.close();
  });
});

describe('a daemon bound off loopback with a token', () => {
  const TOKEN = 'team-token-0123456789';
  let daemon: TestDaemon;
  let port: string;
  beforeAll(async () => {
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'simulated',
      EXAI_WS_HOST: '0.0.0.0',
      EXAI_WS_TOKEN: TOKEN,
      EXAI_HTTP_ALLOWED_HOSTS: 'gw.internal',
    });
    port = new URL(daemon.httpUrl).port;
  });
  afterAll(() => daemon.close());

  it('keeps /health/live and /health/ready open for orchestrators', async () => {
    for (const path of OPEN_PATHS) expect((await get(`${daemon.httpUrl}${path}`)).status).toBe(200);
  });

  it('needs Authorization: Bearer for /health, /metrics and /status', async () => {
    for (const path of OPERATOR_PATHS) {
      const none = await get(`${daemon.httpUrl}${path}`);
      expect({ path, status: none.status }).toEqual({ path, status: 401 });
      expect(none.headers['www-authenticate']).toBe('Bearer realm="exai"');
      expect(none.body).not.toContain('concurrency');
      const wrong = await get(`${daemon.httpUrl}${path}`, { Authorization: 'Bearer team-token-012345678' });
      expect(wrong.status).toBe(401);
      const right = await get(`${daemon.httpUrl}${path}`, { Authorization: `Bearer ${TOKEN}` });
      expect({ path, status: right.status }).toEqual({ path, status: 200 });
    }
  });

  it('takes ?token= for the status page only', async () => {
    expect((await get(`${daemon.httpUrl}/status?token=${TOKEN}`)).status).toBe(200);
    expect((await get(`${daemon.httpUrl}/status?token=nope`)).status).toBe(401);
    expect((await get(`${daemon.httpUrl}/status`)).headers['referrer-policy']).toBeUndefined();
    expect((await get(`${daemon.httpUrl}/status?token=${TOKEN}`)).headers['referrer-policy']).toBe('no-referrer');
    expect((await get(`${daemon.httpUrl}/metrics?token=${TOKEN}`)).status).toBe(401);
    expect((await get(`${daemon.httpUrl}/health?token=${TOKEN}`)).status).toBe(401);
  });

  it('follows rotate_token: the new token opens the endpoints, the old one no longer does', async () => {
    const admin = await TestClient.ready(daemon.url, { token: TOKEN });
    admin.send({ op: 'rotate_token', old: TOKEN, new: `${TOKEN}-v2` });
    expect(await admin.next()).toEqual({ op: 'rotate_token_res', ok: true });
    try {
      expect((await get(`${daemon.httpUrl}/metrics`, { Authorization: `Bearer ${TOKEN}` })).status).toBe(401);
      expect((await get(`${daemon.httpUrl}/metrics`, { Authorization: `Bearer ${TOKEN}-v2` })).status).toBe(200);
    } finally {
      admin.send({ op: 'rotate_token', old: `${TOKEN}-v2`, new: TOKEN });
      expect(await admin.next()).toEqual({ op: 'rotate_token_res', ok: true });
      admin.close();
    }
  });

  it('on a wildcard bind serves IP literals, loopback names and EXAI_HTTP_ALLOWED_HOSTS, nothing else', async () => {
    for (const host of [`10.1.2.3:${port}`, `[fd00::5]:${port}`, `localhost:${port}`, `GW.internal:${port}`]) {
      const res = await get(`${daemon.httpUrl}/health/live`, { Host: host });
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
    }
    for (const host of [`rebind.attacker.example:${port}`, `gw.internal.attacker.example`, `10.1.2.3.nip.io`]) {
      const res = await get(`${daemon.httpUrl}/health/live`, { Host: host });
      expect({ host, status: res.status }).toEqual({ host, status: 403 });
    }
  });
});

describe('a token on a loopback bind', () => {
  it('leaves the operator endpoints open: only an off-loopback bind is exposed', async () => {
    const daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated', EXAI_WS_TOKEN: 'local-token' });
    try {
      for (const path of OPERATOR_PATHS) expect((await get(`${daemon.httpUrl}${path}`)).status).toBe(200);
    } finally {
      await daemon.close();
    }
  });
});

describe('provider account and key ids', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let daemon: TestDaemon;
  beforeAll(async () => {
    await sim.start(0, '127.0.0.1');
    daemon = await startTestDaemon({ ...simulatorEnv(sim), EXAI_PROVIDER_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await daemon.close();
    await sim.stop();
  });

  it('never reach a caller, /health or the health op; the useful part of the message does', async () => {
    const c = await TestClient.ready(daemon.url);
    const ids = /org-sim0|ak-sim0/;
    const kimiError = async (id: string, directive: string) => {
      const args = { prompt: `${directive} hi`, model: 'kimi-k2-turbo-preview' };
      c.send({ op: 'call_tool', request_id: id, name: 'chat', arguments: args });
      return (await c.result(id, 10_000)).error as { code: string; message: string };
    };
    const rpm = await kimiError('rpm', '[[sim:error=429]]');
    expect(rpm.code).toBe('PROVIDER_UNAVAILABLE');
    expect(rpm.message).toMatch(/Your account \[redacted\] request reached organization max RPM: 3/);
    expect(rpm.message).not.toMatch(ids);
    const quota = await kimiError('quota', '[[sim:error=quota]]');
    expect(quota.code).toBe('PROVIDER_ERROR');
    expect(quota.message).toContain('You exceeded your current token quota: <org-[redacted]> 0');
    expect(quota.message).not.toMatch(ids);

    const health = await (await fetch(`${daemon.httpUrl}/health`)).text();
    expect(health).toContain('exceeded your current token quota');
    expect(health).not.toMatch(ids);
    c.send({ op: 'health' });
    const op = JSON.stringify(await c.next((f) => f.op === 'health_res'));
    expect(op).toContain('token quota');
    expect(op).not.toMatch(ids);
    c.close();
  });
});
