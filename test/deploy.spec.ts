import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_CLASSES } from '../src/app-config.module';
import { validateAll } from '../src/config/validate-config';
import { parseComposeYaml, YamlValue } from './support/compose-yaml';
import { parseEnvFile } from './support/env-file';
import { checkConfig, loopbackConfig, SHIPPED_HAPROXY_CFG } from './support/haproxy';

const ROOT = join(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Service = Record<string, YamlValue> & {
  image?: string;
  build?: string;
  environment?: Record<string, string | number | boolean>;
  env_file?: string;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
};

describe('docker-compose.yml', () => {
  const compose = parseComposeYaml(read('docker-compose.yml')) as { services: Record<string, Service> };
  const services = compose.services;
  const envDocker = Object.fromEntries(parseEnvFile(read('.env.docker')).map((e) => [e.key, e.value]));
  const haproxyCfg = read('deploy/haproxy.cfg');

  it('runs Redis, the daemons and a load balancer, and nothing else', () => {
    expect(Object.keys(compose)).toEqual(['services']);
    expect(Object.keys(services).sort()).toEqual(['exai', 'lb', 'redis']);
    expect(services.redis.image).toMatch(/^redis:\d/);
    expect(services.redis.healthcheck).toMatchObject({ test: ['CMD', 'redis-cli', 'ping'] });
  });

  it('runs two daemons of this image, sharing limits and state through the compose Redis', () => {
    const exai = services.exai;
    expect(exai.build).toBe('.');
    expect(exai.deploy?.replicas).toBe(2);
    expect(exai.env_file).toBe('.env.docker');
    expect(exai.environment).toMatchObject({
      EXAI_CONCURRENCY_BACKEND: 'redis',
      EXAI_STATE_BACKEND: 'redis',
      REDIS_URL: 'redis://redis:6379',
    });
    // The balancer's X-Forwarded-For is believed, so per-address bounds apply per agent.
    expect(exai.environment?.EXAI_TRUSTED_PROXIES).toEqual(expect.any(String));
    expect(exai.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    // Replicas cannot share a host port, and agents must go through the balancer.
    expect(exai.ports).toBeUndefined();
  });

  it('sets only variables the daemon reads, and its whole environment passes boot validation', () => {
    const environment = Object.fromEntries(
      Object.entries(services.exai.environment ?? {}).map(([k, v]) => [k, String(v)]),
    );
    const unknown = Object.keys(environment).filter((k) => !(k in envDocker));
    expect(unknown).toEqual([]);
    expect(() => validateAll(ENV_CLASSES, { ...envDocker, ...environment })).not.toThrow();
    // One token for every daemon: an agent's hello is accepted wherever the balancer sends it.
    expect(envDocker.EXAI_WS_TOKEN).not.toBe('');
    expect(environment.EXAI_WS_TOKEN).toBeUndefined();
  });

  it('puts HAProxy (an LTS image) in front, running deploy/haproxy.cfg from the repo', () => {
    const lb = services.lb;
    // HAProxy's long-term-support branches are the even minor versions (2.6, 2.8, 3.0, 3.2).
    expect(lb.image).toMatch(/^haproxy:\d+\.\d*[02468]$/);
    expect(lb.volumes).toEqual(['./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro']);
    expect(existsSync(SHIPPED_HAPROXY_CFG)).toBe(true);
    expect(lb.depends_on).toHaveProperty('exai');
    // The one published port is the balancer's, mapped to the port its frontend binds.
    const bindPort = /^\s*bind :(\d+)$/m.exec(haproxyCfg)?.[1];
    expect(lb.ports).toEqual([`127.0.0.1:8079:${bindPort}`]);
  });

  it('balances onto the compose service, on the port the image listens on', () => {
    const template = /^\s*server-template \S+ \S+ ([\w-]+):(\d+) /m.exec(haproxyCfg);
    expect(template?.[1]).toBe('exai');
    expect(template?.[2]).toBe(envDocker.EXAI_WS_PORT);
    const dockerfile = read('Dockerfile');
    expect(/^EXPOSE (\d+)$/m.exec(dockerfile)?.[1]).toBe(envDocker.EXAI_WS_PORT);
    expect(/^\s+EXAI_WS_PORT=(\d+)$/m.exec(dockerfile)?.[1]).toBe(envDocker.EXAI_WS_PORT);
    // The image must listen off loopback for the balancer to reach it, which needs the token above.
    expect(envDocker.EXAI_WS_HOST).toBe('0.0.0.0');
  });
});

describe('deploy/haproxy.cfg', () => {
  const cfg = read('deploy/haproxy.cfg');
  const directives = cfg
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');

  it('passes haproxy -c with no warnings', () => {
    const { status, output } = checkConfig(SHIPPED_HAPROXY_CFG);
    expect({ status, output: output.trim() }).toEqual({ status: 0, output: 'Configuration file is valid' });
  });

  it('balances by least connections and health-checks /health/ready', () => {
    expect(directives).toContain('balance leastconn');
    expect(directives).toContain('option httpchk');
    expect(directives).toContainEqual(expect.stringMatching(/^http-check send meth GET uri \/health\/ready /));
    expect(directives).toContain('http-check expect status 200');
    expect(directives).toContainEqual(expect.stringMatching(/^default-server check /));
  });

  it('falls back to the daemons unchecked when none is ready, never to its own 503', () => {
    expect(directives).toContain('option allbackups');
    expect(directives).toContainEqual(
      expect.stringMatching(/^server-template \S+ \S+ exai:\d+ resolvers docker init-addr none backup no-check$/),
    );
  });

  it('sends the daemons the address it saw, and never the one a client wrote', () => {
    const drop = directives.indexOf('http-request del-header x-forwarded-for');
    expect(drop).toBeGreaterThan(-1);
    expect(directives.indexOf('option forwardfor')).toBeGreaterThan(drop);
  });

  it('keeps WebSocket tunnels open longer than the daemon’s ping interval, and /v1 calls longer than their budget', () => {
    const seconds = (name: string) => {
      const m = new RegExp(`^timeout ${name} (\\d+)(s|m|h)$`).exec(
        directives.find((d) => d.startsWith(`timeout ${name} `)) ?? '',
      );
      return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] : NaN;
    };
    const env = Object.fromEntries(parseEnvFile(read('.env.docker')).map((e) => [e.key, Number(e.value)]));
    expect(seconds('tunnel')).toBeGreaterThan(env.EXAI_WS_PING_INTERVAL + env.EXAI_WS_PING_TIMEOUT);
    const longestBudget = Math.max(
      ...Object.entries(env)
        .filter(([k]) => /_TIMEOUT_SECS$/.test(k) && /^(GLM|KIMI)_/.test(k))
        .map(([, v]) => v),
    );
    expect(longestBudget).toBeGreaterThanOrEqual(420);
    expect(seconds('server')).toBeGreaterThan(longestBudget);
    expect(seconds('client')).toBeGreaterThan(longestBudget);
  });

  it('becomes a loopback config for the e2e test with every other setting unchanged, and that passes haproxy -c too', () => {
    const generated = loopbackConfig(cfg, 40001, [
      { name: 'a', port: 40002 },
      { name: 'b', port: 40003 },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'exai-haproxy-check-'));
    try {
      writeFileSync(join(dir, 'haproxy.cfg'), generated);
      const { status, output } = checkConfig(join(dir, 'haproxy.cfg'));
      expect({ status, output: output.trim() }).toEqual({ status: 0, output: 'Configuration file is valid' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const lines = (text: string) => new Set(text.split('\n').filter((l) => !/^\s*#/.test(l)));
    const removed = [...lines(cfg)].filter((l) => !lines(generated).has(l));
    const added = [...lines(generated)].filter((l) => !lines(cfg).has(l));
    expect(added.map((l) => l.trim())).toEqual([
      'bind 127.0.0.1:40001',
      'server exai-a 127.0.0.1:40002',
      'server exai-b 127.0.0.1:40003',
      'server fallback-a 127.0.0.1:40002 backup no-check',
      'server fallback-b 127.0.0.1:40003 backup no-check',
    ]);
    const docker =
      /^\s*(bind :|server-template |resolvers docker|nameserver |resolve_retries |timeout (resolve|retry) |hold |accepted_payload_size )/;
    expect(removed.filter((l) => !docker.test(l))).toEqual([]);
  });
});
