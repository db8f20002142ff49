import { logFormat } from '../src/logging/logging.config';
import 'reflect-metadata';
import { toConcurrencyConfig } from '../src/concurrency/concurrency.config';
import { ENV_CLASSES } from '../src/app-config.module';
import { EnvSource, parseEnv, validateAll } from '../src/config/validate-config';
import { configError } from './support/config-error';
import { isLoopbackHost } from '../src/config/listen-host';
import { GatewayEnv, toGatewayConfig } from '../src/gateway/gateway.config';
import { HttpEnv, toHttpConfig } from '../src/http/http.config';
import { LoggingEnv } from '../src/logging/logging.config';
import { ProvidersEnv, toProvidersConfig } from '../src/providers/providers.config';
import { RoutingEnv, toRoutingConfig } from '../src/routing/routing.config';
import { toStateConfig } from '../src/state/state.config';

const gateway = (env: EnvSource = {}) => toGatewayConfig(parseEnv(GatewayEnv, env));
const http = (env: EnvSource = {}) => toHttpConfig(parseEnv(HttpEnv, env));
const concurrency = (env: EnvSource = {}) => toConcurrencyConfig(env);
const providers = (env: EnvSource = {}) => toProvidersConfig(parseEnv(ProvidersEnv, env));
const routing = (env: EnvSource = {}) => toRoutingConfig(parseEnv(RoutingEnv, env));

describe('configuration', () => {
  describe('defaults with an empty environment', () => {
    it('gateway', () => {
      expect(gateway()).toEqual({
        host: '127.0.0.1',
        port: 8079,
        token: '',
        allowInsecure: false,
        maxBytes: 33554432,
        pingIntervalMs: 45_000,
        pingTimeoutMs: 30_000,
        maxConnections: 1000,
        maxConnectionsPerIp: 64,
        helloTimeoutMs: 5_000,
        maxPendingHellos: 128,
        maxHelloBytes: 16_384,
        helloFailuresBeforeBackoff: 10,
        helloBackoffMaxMs: 60_000,
        allowedOrigins: [],
        maxBufferedBytes: 8 * 1024 * 1024,
        rateLimitPerSec: 50,
        rateLimitBurst: 200,
        resultTtlMs: 600_000,
        resultCacheMaxEntries: 1000,
        resultCacheMaxBytes: 64 * 1024 * 1024,
        disableCoalesceFor: [],
        resultCacheScope: 'session',
        trustedProxies: [],
        progressIntervalMs: 8_000,
        compatText: true,
        toolTimeoutSecs: 120,
        shutdownTimeoutMs: 8_000,
      });
    });

    it('concurrency: the dev profile', () => {
      const c = concurrency();
      expect(c.profile).toBe('dev');
      expect(c.limits).toEqual({ global: 5, session: 2, providers: { GLM: 2, KIMI: 3 } });
      expect(c).toMatchObject({
        queueTimeoutMs: 30_000,
        maxQueue: 1000,
        backend: 'memory',
        redisUrl: 'redis://127.0.0.1:6379',
      });
    });

    it('providers: the timeout table and the endpoints', () => {
      const p = providers();
      expect(p.mode).toBe('auto');
      expect(p.kimi.timeouts).toEqual({ base: 240, webSearch: 300, thinking: 360, webThinking: 420 });
      expect(p.glm.timeouts).toEqual({ base: 120, webSearch: 180, thinking: 240, webThinking: 300 });
      expect(p.glm.baseUrl).toBe('https://api.z.ai/api/paas/v4');
      expect(p.kimi.baseUrl).toBe('https://api.moonshot.ai/v1');
      expect(p.glm.apiKey).toBeUndefined();
      expect(p.kimi.apiKey).toBeUndefined();
    });

    it('routing: model cache of 1000 entries for 180 s', () => {
      const r = routing();
      expect(r.cacheTtlMs).toBe(180_000);
      expect(r.cacheMaxEntries).toBe(1000);
    });

    it('logging: auto format (pretty on a terminal) at info, JSON lines gathered for 100 ms', () => {
      expect(parseEnv(LoggingEnv, {})).toMatchObject({ LOG_FORMAT: 'auto', LOG_LEVEL: 'info', LOG_FLUSH_MS: 100 });
      expect(parseEnv(LoggingEnv, { LOG_FLUSH_MS: '0' }).LOG_FLUSH_MS).toBe(0);
      for (const bad of ['-1', '10001', 'soon']) {
        expect(configError(() => parseEnv(LoggingEnv, { LOG_FLUSH_MS: bad })).problems).toEqual([
          expect.stringMatching(/^LOG_FLUSH_MS=/),
        ]);
      }
    });

    it('every namespace validates an empty environment together', () => {
      expect(() => validateAll(ENV_CLASSES, {})).not.toThrow();
    });
  });

  describe('concurrency profiles', () => {
    it('prod raises every limit', () => {
      expect(concurrency({ EXAI_CONCURRENCY_PROFILE: 'prod' }).limits).toEqual({
        global: 24,
        session: 8,
        providers: { GLM: 4, KIMI: 6 },
      });
    });

    it('a per-limit override wins over the profile, the others keep the profile value', () => {
      expect(
        concurrency({
          EXAI_CONCURRENCY_PROFILE: 'prod',
          EXAI_WS_GLOBAL_MAX_INFLIGHT: '7',
          EXAI_WS_KIMI_MAX_INFLIGHT: '1',
        }).limits,
      ).toEqual({ global: 7, session: 8, providers: { GLM: 4, KIMI: 1 } });
      expect(concurrency({ EXAI_WS_SESSION_MAX_INFLIGHT: '9', EXAI_WS_GLM_MAX_INFLIGHT: '11' }).limits).toEqual({
        global: 5,
        session: 9,
        providers: { GLM: 11, KIMI: 3 },
      });
    });
  });

  describe('validation', () => {
    it('reports every bad key of every namespace in one error', () => {
      const err = configError(() =>
        validateAll(ENV_CLASSES, {
          EXAI_WS_PORT: 'abc',
          EXAI_WS_GLOBAL_MAX_INFLIGHT: '0',
          EXAI_CONCURRENCY_PROFILE: 'turbo',
        }),
      );
      expect(err.problems).toHaveLength(3);
      for (const key of ['EXAI_WS_PORT', 'EXAI_WS_GLOBAL_MAX_INFLIGHT', 'EXAI_CONCURRENCY_PROFILE']) {
        expect(err.message).toContain(key);
        expect(err.problems.filter((p) => p.startsWith(`${key}=`))).toHaveLength(1);
      }
      expect(err.message).toContain('"abc"');
      expect(err.message).toContain('"turbo"');
    });

    it.each([
      ['EXAI_WS_PORT', '65536'],
      ['EXAI_WS_PORT', '-1'],
      ['EXAI_WS_PORT', '80.5'],
      ['EXAI_WS_MAX_BYTES', '1023'],
      ['EXAI_WS_HOST', 'two words'],
      ['EXAI_WS_MAX_BUFFERED_BYTES', '1000'],
      ['EXAI_WS_MAX_HELLO_BYTES', '100'],
      ['EXAI_WS_MAX_PENDING_HELLOS', '0'],
      ['EXAI_WS_RATE_LIMIT_BURST', '0'],
      ['EXAI_WS_ALLOWED_ORIGINS', 'example.com'],
      ['EXAI_WS_ALLOWED_ORIGINS', 'https://ok.example,https://bad.example/path'],
      ['EXAI_RESULT_CACHE_MAX_BYTES', '-1'],
    ])('rejects %s=%s', (key, value) => {
      // A token keeps a non-loopback host from adding its own EXAI_WS_TOKEN problem.
      const err = configError(() => parseEnv(GatewayEnv, { EXAI_WS_TOKEN: 't', [key]: value }));
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toMatch(new RegExp(`^${key}=`));
    });

    it.each([
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
      ['TRUE', true],
    ])('parses the boolean %s', (raw, expected) => {
      expect(gateway({ EXAI_WS_COMPAT_TEXT: raw }).compatText).toBe(expected);
      expect(gateway({ EXAI_WS_ALLOW_INSECURE: raw }).allowInsecure).toBe(expected);
    });

    it('reads allowed origins as a lower-cased list', () => {
      expect(
        gateway({ EXAI_WS_ALLOWED_ORIGINS: 'https://App.example.com, http://localhost:3000' }).allowedOrigins,
      ).toEqual(['https://app.example.com', 'http://localhost:3000']);
    });

    it('never shows a password or a secret in a boot error', () => {
      const err = configError(() =>
        validateAll(ENV_CLASSES, {
          REDIS_URL: 'redis://app:hunter2@redis host:6379',
          EXAI_WS_HOST: '0.0.0.0',
          EXAI_WS_TOKEN: '',
        }),
      );
      expect(err.message).toContain('REDIS_URL="redis://app:***@redis host:6379": must be a redis:// or rediss:// URL');
      expect(err.message).not.toContain('hunter2');
      const bare = configError(() => validateAll(ENV_CLASSES, { REDIS_URL: 'rediss://s3cr3t@bad host' }));
      expect(bare.message).toContain('REDIS_URL="rediss://***@bad host"');
      expect(bare.message).not.toContain('s3cr3t');
    });

    it('reads the result cache scope and the extra HTTP host names', () => {
      expect(gateway({ EXAI_RESULT_CACHE_SCOPE: 'global' })).toMatchObject({ resultCacheScope: 'global' });
      expect(http({ EXAI_WS_HOST: '0.0.0.0', EXAI_HTTP_ALLOWED_HOSTS: 'Exai-1, gw.internal' })).toEqual({
        host: '0.0.0.0',
        allowedHosts: ['exai-1', 'gw.internal'],
      });
      expect(configError(() => http({ EXAI_HTTP_ALLOWED_HOSTS: 'gw.internal:8079' })).message).toContain(
        'EXAI_HTTP_ALLOWED_HOSTS=["gw.internal:8079"]',
      );
    });

    it('rejects a boolean that is neither true nor false', () => {
      const err = configError(() => parseEnv(GatewayEnv, { EXAI_WS_COMPAT_TEXT: 'maybe' }));
      expect(err.problems).toHaveLength(1);
      expect(err.message).toContain('EXAI_WS_COMPAT_TEXT="maybe"');
    });

    it('treats an empty value as unset', () => {
      const g = gateway({ EXAI_WS_PORT: '', EXAI_WS_COMPAT_TEXT: '', EXAI_WS_HOST: '', EXAI_WS_PING_INTERVAL: '' });
      expect(g).toMatchObject({ port: 8079, compatText: true, host: '127.0.0.1', pingIntervalMs: 45_000 });
      expect(concurrency({ EXAI_CONCURRENCY_PROFILE: '', EXAI_WS_GLOBAL_MAX_INFLIGHT: '' }).limits.global).toBe(5);
      expect(routing({ ROUTING_CACHE_MODEL_TTL_SECS: '' }).cacheTtlMs).toBe(180_000);
    });

    it('splits the coalescing opt-out list on commas, trimming and dropping empty items', () => {
      expect(gateway({ EXAI_WS_DISABLE_COALESCE_FOR_TOOLS: 'a, b,,c' }).disableCoalesceFor).toEqual(['a', 'b', 'c']);
    });

    it('reads numbers with surrounding whitespace', () => {
      expect(gateway({ EXAI_WS_PORT: ' 9001 ' }).port).toBe(9001);
    });
  });

  describe('token required off loopback', () => {
    it('refuses a non-loopback host without a token, naming EXAI_WS_TOKEN', () => {
      const err = configError(() => parseEnv(GatewayEnv, { EXAI_WS_HOST: '0.0.0.0' }));
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toMatch(/^EXAI_WS_TOKEN=/);
      expect(err.message).toContain('EXAI_WS_ALLOW_INSECURE');
    });

    it('counts an empty token as no token', () => {
      const err = configError(() => validateAll(ENV_CLASSES, { EXAI_WS_HOST: '0.0.0.0', EXAI_WS_TOKEN: '' }));
      expect(err.message).toContain('EXAI_WS_TOKEN');
    });

    it('allows it with EXAI_WS_ALLOW_INSECURE=true', () => {
      expect(gateway({ EXAI_WS_HOST: '0.0.0.0', EXAI_WS_ALLOW_INSECURE: 'true' })).toMatchObject({
        host: '0.0.0.0',
        token: '',
        allowInsecure: true,
      });
    });

    it('still refuses it with EXAI_WS_ALLOW_INSECURE=false', () => {
      configError(() => parseEnv(GatewayEnv, { EXAI_WS_HOST: '0.0.0.0', EXAI_WS_ALLOW_INSECURE: 'false' }));
    });

    it('allows it with a token', () => {
      expect(gateway({ EXAI_WS_HOST: '0.0.0.0', EXAI_WS_TOKEN: 's3cret' }).token).toBe('s3cret');
    });

    it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1'])('needs no token on loopback %s', (host) => {
      expect(isLoopbackHost(host)).toBe(true);
      expect(gateway({ EXAI_WS_HOST: host }).host).toBe(host);
    });

    it.each(['0.0.0.0', '192.168.1.10', 'example.com', '::'])('treats %s as not loopback', (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    });
  });

  describe('provider keys', () => {
    it('fall back to the vendor-named variables', () => {
      const p = providers({ ZHIPUAI_API_KEY: 'zhipu', MOONSHOT_API_KEY: 'moon' });
      expect(p.glm.apiKey).toBe('zhipu');
      expect(p.kimi.apiKey).toBe('moon');
    });

    it('prefer the primary variables when both are set', () => {
      const p = providers({
        GLM_API_KEY: 'glm',
        ZHIPUAI_API_KEY: 'zhipu',
        KIMI_API_KEY: 'kimi',
        MOONSHOT_API_KEY: 'moon',
      });
      expect(p.glm.apiKey).toBe('glm');
      expect(p.kimi.apiKey).toBe('kimi');
    });

    it('fall back when the primary variable is empty', () => {
      expect(providers({ GLM_API_KEY: '', ZHIPUAI_API_KEY: 'zhipu' }).glm.apiKey).toBe('zhipu');
    });
  });
});

describe('LOG_FORMAT', () => {
  it('auto is pretty on a terminal and JSON otherwise; an explicit choice wins', () => {
    expect(logFormat('auto', true)).toBe('pretty');
    expect(logFormat('auto', false)).toBe('json');
    expect(logFormat('json', true)).toBe('json');
    expect(logFormat('pretty', false)).toBe('pretty');
  });
});

describe('EXAI_STATE_BACKEND', () => {
  const state = (env: EnvSource = {}) => toStateConfig(env);

  it('follows EXAI_CONCURRENCY_BACKEND when unset or empty, and takes the limiter’s Redis and failure mode', () => {
    expect(state()).toEqual({ backend: 'memory', redisUrl: 'redis://127.0.0.1:6379', failureMode: 'closed' });
    expect(state({ EXAI_CONCURRENCY_BACKEND: 'redis', EXAI_STATE_BACKEND: '' }).backend).toBe('redis');
    expect(
      state({ EXAI_CONCURRENCY_BACKEND: 'redis', REDIS_URL: 'redis://r:6380', EXAI_REDIS_FAILURE_MODE: 'local' }),
    ).toEqual({ backend: 'redis', redisUrl: 'redis://r:6380', failureMode: 'local' });
  });

  it('an explicit value wins either way', () => {
    expect(state({ EXAI_CONCURRENCY_BACKEND: 'redis', EXAI_STATE_BACKEND: 'memory' }).backend).toBe('memory');
    expect(state({ EXAI_STATE_BACKEND: 'redis' }).backend).toBe('redis');
  });

  it('is validated at boot with the other variables', () => {
    const err = configError(() => validateAll(ENV_CLASSES, { EXAI_STATE_BACKEND: 'disk' }));
    expect(err.problems).toEqual([expect.stringMatching(/^EXAI_STATE_BACKEND="disk": .*memory, redis/)]);
  });
});
