import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ENV_CLASSES } from '../src/app-config.module';
import { validateAll } from '../src/config/validate-config';
import {
  RealProviderEndpoints,
  selectEndpoints,
  SimulatedEndpoints,
  SimulatedEndpointsFactory,
} from '../src/providers/provider-endpoints';
import { toProvidersConfig, ProvidersEnv } from '../src/providers/providers.config';
import { parseEnv } from '../src/config/validate-config';
import { standaloneSimulatorConfig } from '../src/simulator/simulator.config';
import { startTestDaemon } from './support/daemon';
import { configError } from './support/config-error';
import { waitFor } from './support/wait';

const MAIN = join(__dirname, '..', 'dist', 'simulator', 'simulator.main.js');
const NO_KEYS = { GLM_API_KEY: '', ZHIPUAI_API_KEY: '', KIMI_API_KEY: '', MOONSHOT_API_KEY: '' };

interface CapacityView {
  glm: { capacity: number | null };
  kimi: { capacity: number | null };
}

describe('simulator config', () => {
  it('the standalone simulator defaults to 127.0.0.1:8090 at full latency with unlimited capacity', () => {
    expect(standaloneSimulatorConfig({})).toEqual({
      port: 8090,
      host: '127.0.0.1',
      speed: 1,
      capacity: { glm: undefined, kimi: undefined },
    });
    expect(
      standaloneSimulatorConfig({ SIM_PORT: '0', SIM_SPEED: '0.5', SIM_HOST: '::1', SIM_KIMI_CAPACITY: '4' }),
    ).toEqual({ port: 0, host: '::1', speed: 0.5, capacity: { glm: undefined, kimi: 4 } });
  });

  it('names every bad SIM_* variable in one error', () => {
    const err = configError(() =>
      standaloneSimulatorConfig({ SIM_PORT: '70000', SIM_SPEED: '-1', SIM_GLM_CAPACITY: '0', SIM_KIMI_CAPACITY: 'x' }),
    );
    expect(err.problems.map((p) => p.split('=')[0]).sort()).toEqual([
      'SIM_GLM_CAPACITY',
      'SIM_KIMI_CAPACITY',
      'SIM_PORT',
      'SIM_SPEED',
    ]);
  });

  it('the daemon validates the embedded simulator capacity at boot, and never reads SIM_PORT', () => {
    const err = configError(() => validateAll(ENV_CLASSES, { SIM_GLM_CAPACITY: '0' }));
    expect(err.message).toContain('SIM_GLM_CAPACITY');
    expect(() => validateAll(ENV_CLASSES, { SIM_PORT: 'not a port', SIM_SPEED: 'fast' })).not.toThrow();
  });

  it('the providers simulate when asked, or in auto mode with no key at all', () => {
    const simulate = (env: Record<string, string>) => toProvidersConfig(parseEnv(ProvidersEnv, env)).simulate;
    expect(simulate({})).toBe(true);
    expect(simulate({ KIMI_API_KEY: 'k' })).toBe(false);
    expect(simulate({ MOONSHOT_API_KEY: 'k' })).toBe(false);
    expect(simulate({ EXAI_PROVIDERS_MODE: 'simulated', GLM_API_KEY: 'k' })).toBe(true);
    expect(simulate({ EXAI_PROVIDERS_MODE: 'real', GLM_API_KEY: 'k' })).toBe(false);
  });
});

describe('endpoint selection (selectEndpoints)', () => {
  const providers = (env: Record<string, string>) => toProvidersConfig(parseEnv(ProvidersEnv, env));
  const fake: SimulatedEndpoints = {
    mode: 'simulated',
    description: 'fake answers',
    endpointFor: () => ({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', mode: 'simulated' }),
  };
  const factory: SimulatedEndpointsFactory = { create: () => Promise.resolve(fake) };

  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('the real APIs when a key is set, without asking the factory', async () => {
    const create = jest.spyOn(factory, 'create');
    const endpoints = await selectEndpoints(providers({ GLM_API_KEY: 'k' }), factory);
    expect(endpoints).toBeInstanceOf(RealProviderEndpoints);
    const api = providers({ GLM_API_KEY: 'k' }).glm;
    expect(endpoints.endpointFor('GLM', { ...api, baseUrl: 'https://example.test/v4///' })).toEqual({
      baseUrl: 'https://example.test/v4',
      apiKey: 'k',
      mode: 'real',
    });
    expect(endpoints.endpointFor('KIMI', { ...api, apiKey: undefined })).toBeUndefined();
    expect(create).not.toHaveBeenCalled();
  });

  it('the factory’s endpoints when simulating, said in a SIMULATED PROVIDERS warning', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    expect(await selectEndpoints(providers({}), factory)).toBe(fake);
    expect(warn).toHaveBeenCalledWith(
      'SIMULATED PROVIDERS: no API key is set (EXAI_PROVIDERS_MODE=auto); fake answers, not real models',
    );
  });

  it('a clear boot error when simulating without the simulator module', async () => {
    await expect(selectEndpoints(providers({ EXAI_PROVIDERS_MODE: 'simulated' }), undefined)).rejects.toThrow(
      'EXAI_PROVIDERS_MODE=simulated needs the simulator module, which is not loaded',
    );
  });
});

describe('npm run simulator (dist/simulator/simulator.main.js)', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
  });

  function run(env: Record<string, string>): { child: ChildProcess; output: () => string } {
    let out = '';
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out };
  }

  it('listens where SIM_PORT and SIM_HOST say, with the SIM_*_CAPACITY it was given', async () => {
    const sim = run({ SIM_PORT: '0', SIM_HOST: '127.0.0.1', SIM_SPEED: '0', SIM_GLM_CAPACITY: '2' });
    let url = '';
    await waitFor(
      () => {
        url = /POST (http:\/\/127\.0\.0\.1:\d+)\/sim\/capacity/.exec(sim.output())?.[1] ?? '';
        return url !== '';
      },
      15_000,
      'the simulator listening',
    );
    expect(sim.output()).toContain('speed 0, capacity GLM 2 Kimi unlimited');
    const view = (await (await fetch(`${url}/sim/capacity`)).json()) as CapacityView;
    expect([view.glm.capacity, view.kimi.capacity]).toEqual([2, null]);
  });

  it('refuses a bad SIM_PORT with a message naming it, and exits 1', async () => {
    const sim = run({ SIM_PORT: '99999' });
    const [code] = (await once(sim.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(sim.output()).toMatch(/Provider simulator failed to start: Invalid configuration:\s+- SIM_PORT=/);
  });
});

describe('the daemon’s embedded simulator', () => {
  it('starts with SIM_GLM_CAPACITY / SIM_KIMI_CAPACITY from the simulator config', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const d = await startTestDaemon({
      ...NO_KEYS,
      EXAI_PROVIDERS_MODE: 'simulated',
      SIM_GLM_CAPACITY: '3',
      SIM_KIMI_CAPACITY: '5',
    });
    try {
      const line = warn.mock.calls.map(([m]) => String(m)).find((m) => m.startsWith('SIMULATED PROVIDERS'));
      expect(line).toMatch(/^SIMULATED PROVIDERS: EXAI_PROVIDERS_MODE=simulated; GLM and Kimi answer from/);
      const url = /embedded simulator at (http:\/\/127\.0\.0\.1:\d+)/.exec(line ?? '')?.[1];
      const view = (await (await fetch(`${url}/sim/capacity`)).json()) as CapacityView;
      expect([view.glm.capacity, view.kimi.capacity]).toEqual([3, 5]);
    } finally {
      await d.close();
      warn.mockRestore();
    }
  });
});
