import { Injectable, Module } from '@nestjs/common';
import { HealthIndicatorResult } from '@nestjs/terminus';
import { ExaiHealthIndicator } from '../src/health/health.decorator';
import type { HealthProbe } from '../src/health/health-probe';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient } from './support/ws-client';

type Json = Record<string, unknown>;

async function getJson(url: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Json };
}

const METRIC_NAMES = [
  'exai_inflight',
  'exai_capacity',
  'exai_queue_depth',
  'exai_queue_wait_seconds',
  'exai_admissions_total',
  'exai_leases_reclaimed_total',
  'exai_calls_total',
  'exai_call_duration_seconds',
  'exai_provider_requests_total',
  'exai_provider_latency_seconds',
  'exai_provider_retries_total',
  'exai_provider_circuit_state',
  'exai_routing_cache_total',
  'exai_ws_connections',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

describe('health, readiness and metrics', () => {
  const sim = new ProviderSimulator({ speed: 0 });
  let daemon: TestDaemon;
  beforeAll(async () => {
    await sim.start(0, '127.0.0.1');
    daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'real',
      GLM_API_KEY: 'sim-glm-key',
      KIMI_API_KEY: 'sim-kimi-key',
      GLM_API_URL: sim.glmBaseUrl,
      KIMI_API_URL: sim.kimiBaseUrl,
    });
  });
  afterAll(async () => {
    await daemon.close();
    await sim.stop();
  });

  it('serves /health with the gateway, concurrency, providers and routing indicators, with exact keys', async () => {
    const { status, body } = await getJson(`${daemon.httpUrl}/health`);
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['details', 'error', 'info', 'status']);
    const details = body.details as Record<string, Json>;
    expect(Object.keys(details).sort()).toEqual([
      'concurrency',
      'gateway',
      'provider_limits',
      'providers',
      'routing',
      'state',
    ]);
    expect(Object.keys(details.state).sort()).toEqual(['backend', 'fallback', 'maps', 'status']);
    expect(details.state).toMatchObject({ status: 'up', backend: 'memory', fallback: false });
    expect((details.state.maps as Record<string, Json>).threads).toEqual({ entries: 0, bytes: 0 });
    expect(Object.keys(details.gateway).sort()).toEqual(['connections', 'in_flight_calls', 'sessions', 'status']);
    expect(Object.keys(details.concurrency).sort()).toEqual(
      [
        'activeSessions',
        'backend',
        'capacity',
        'inFlight',
        'lastAuditAt',
        'leases',
        'profile',
        'queued',
        'reclaimed',
        'status',
      ].sort(),
    );
    expect(Object.keys(details.concurrency.reclaimed as Json).sort()).toEqual(['drift', 'expired', 'orphaned']);
    expect(Object.keys(details.providers).sort()).toEqual(['mode', 'providers', 'status']);
    const glm = (details.providers.providers as Record<string, Json>).GLM;
    expect(Object.keys(glm).sort()).toEqual(['circuit', 'configured', 'id', 'mode', 'usage']);
    expect(Object.keys(glm.usage as Json).sort()).toEqual(['calls', 'errorRate', 'errors', 'latencyMs', 'tokens']);
    expect(glm).toMatchObject({ id: 'GLM', mode: 'real', configured: true, circuit: 'closed' });
    expect(Object.keys(details.routing).sort()).toEqual([
      'cacheSize',
      'hitRatio',
      'hits',
      'maxEntries',
      'misses',
      'status',
      'ttlSecs',
    ]);
    expect(details.routing).toMatchObject({ maxEntries: 1000, ttlSecs: 180 });
    expect(Object.keys(details.provider_limits).sort()).toEqual(['providers', 'status']);
    const limits = details.provider_limits.providers as Record<string, Json>;
    expect(Object.keys(limits.GLM).sort()).toEqual(['ceiling', 'history', 'limit', 'min', 'mode']);
    expect(limits.GLM).toMatchObject({ mode: 'static', limit: limits.GLM.ceiling, min: 1 });
  });

  it('redirects / to /status and serves a favicon, so a browser view logs no 404', async () => {
    const root = await fetch(`${daemon.httpUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/status');
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const icon = await fetch(`${daemon.httpUrl}${path}`);
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      expect(await icon.text()).toMatch(/^<svg /);
    }
  });

  it('is ready once a provider is usable and the leak audit has run', async () => {
    const { status, body } = await getJson(`${daemon.httpUrl}/health/ready`);
    expect(status).toBe(200);
    expect(Object.keys(body.details as Json).sort()).toEqual([
      'gateway',
      'leak_audit',
      'limiter',
      'providers',
      'state',
    ]);
    const live = await getJson(`${daemon.httpUrl}/health/live`);
    expect(live.status).toBe(200);
    expect(Object.keys(live.body.details as Json)).toEqual(['event_loop']);
  });

  it('answers the health op with the same snapshot plus the legacy keys', async () => {
    const c = await TestClient.ready(daemon.url);
    c.send({ op: 'list_tools', request_id: 'tools' });
    const toolCount = ((await c.next((f) => f.request_id === 'tools')).tools as unknown[]).length;
    // /health read before and after the op: when both agree (no audit tick in
    // between), the op must show exactly that snapshot.
    let health: Json | undefined;
    let details: Json | undefined;
    for (let attempt = 0; attempt < 3 && !health; attempt++) {
      const before = (await getJson(`${daemon.httpUrl}/health`)).body;
      c.send({ op: 'health' });
      const res = await c.next((f) => f.op === 'health_res');
      const after = (await getJson(`${daemon.httpUrl}/health`)).body;
      if (JSON.stringify(before) !== JSON.stringify(after)) continue;
      health = res.health as Json;
      details = after.details as Json;
    }
    c.close();
    expect(health).toMatchObject({ status: 'ok', ...details! });
    expect(Object.keys(health!).sort()).toEqual(
      [
        ...Object.keys(details!),
        'status',
        't',
        'uptime_human',
        'sessions',
        'global_capacity',
        'global_inflight',
        'tool_count',
      ].sort(),
    );
    const concurrency = details!.concurrency as { capacity: Json; inFlight: Json };
    expect(health).toMatchObject({
      sessions: (details!.gateway as Json).sessions,
      global_capacity: concurrency.capacity.global,
      global_inflight: concurrency.inFlight.global,
      tool_count: toolCount,
    });
    expect(health!.t).toBeCloseTo(Date.now() / 1000, -2);
    expect(health!.uptime_human).toMatch(/^\d+[smhd]/);
  });

  it('serves every metric named in the design after some traffic, with bounded labels', async () => {
    const c = await TestClient.ready(daemon.url, { session_id: 'metrics-session' });
    for (const [i, prompt] of ['hello', 'hello', '[[sim:error=429:1]] retry'].entries()) {
      c.send({ op: 'call_tool', request_id: `m${i}`, name: 'chat', arguments: { prompt } });
      await c.result(`m${i}`, 10000);
    }
    c.close();
    const text = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
    for (const name of METRIC_NAMES) expect(text).toMatch(new RegExp(`^${name}(\\{|_bucket| )`, 'm'));
    expect(text).toMatch(/exai_calls_total\{tool="chat",outcome="success"\} [1-9]/);
    expect(text).toMatch(/exai_routing_cache_total\{result="hit"\} [1-9]/);
    expect(text).toMatch(/exai_provider_retries_total\{provider="GLM"\} 1/);
    expect(text).not.toMatch(/metrics-session|request_id|session_id/);
  });
});

@ExaiHealthIndicator({ key: 'stuck' })
@Injectable()
class StuckIndicator implements HealthProbe {
  isHealthy(): Promise<HealthIndicatorResult> {
    return new Promise(() => undefined);
  }
}

@Module({ providers: [StuckIndicator] })
class StuckHealthModule {}

describe('health when things are down', () => {
  it('answers 503 when no provider is usable, and readiness fails too', async () => {
    const sim = new ProviderSimulator({ speed: 0 });
    await sim.start(0, '127.0.0.1');
    const daemon = await startTestDaemon({
      EXAI_PROVIDERS_MODE: 'real',
      GLM_API_KEY: 'sim-glm-key',
      KIMI_API_KEY: '',
      MOONSHOT_API_KEY: '',
      GLM_API_URL: sim.glmBaseUrl,
      EXAI_CIRCUIT_FAILURE_THRESHOLD: '1',
      EXAI_PROVIDER_MAX_RETRIES: '0',
    });
    try {
      const c = await TestClient.ready(daemon.url);
      c.send({ op: 'call_tool', request_id: 'x', name: 'chat', arguments: { prompt: '[[sim:error=503]] down' } });
      expect(((await c.result('x')).error as Json).code).toBe('PROVIDER_UNAVAILABLE');
      c.close();
      const health = await getJson(`${daemon.httpUrl}/health`);
      expect(health.status).toBe(503);
      expect(health.body.status).toBe('error');
      expect((health.body.error as Record<string, Json>).providers).toMatchObject({
        status: 'down',
        message: 'no provider is usable',
      });
      const providers = (health.body.details as Record<string, Json>).providers.providers as Record<string, Json>;
      expect(providers.GLM).toMatchObject({ circuit: 'open', lastError: { message: expect.stringMatching(/503/) } });
      expect(providers.KIMI).toMatchObject({ configured: false, mode: 'unconfigured' });
      expect((await getJson(`${daemon.httpUrl}/health/ready`)).status).toBe(503);
    } finally {
      await daemon.close();
      await sim.stop();
    }
  });

  it('bounds a hung indicator by a timeout instead of hanging /health', async () => {
    const daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' }, { extensions: [StuckHealthModule] });
    try {
      const started = Date.now();
      const { status, body } = await getJson(`${daemon.httpUrl}/health`);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(status).toBe(503);
      expect((body.error as Record<string, Json>).stuck).toEqual({ status: 'down', message: 'health probe timed out' });
    } finally {
      await daemon.close();
    }
  });
});
