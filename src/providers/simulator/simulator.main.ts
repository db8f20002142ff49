import { ProviderSimulator, SIM_DEFAULT_KEYS } from './provider-simulator';
import { SimulatorConfigError } from './simulator.errors';

// Standalone entry (`npm run simulator`); this file is the simulator's config, so env is read here only.
interface SimulatorEnv {
  port: number;
  host: string;
  speed: number;
  capacity: { glm?: number; kimi?: number };
}

function readEnv(env: NodeJS.ProcessEnv): SimulatorEnv {
  const problems: string[] = [];
  const port = env.SIM_PORT === undefined || env.SIM_PORT === '' ? 8090 : Number(env.SIM_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    problems.push(`SIM_PORT must be 0-65535, got "${env.SIM_PORT}"`);
  const speed = env.SIM_SPEED === undefined || env.SIM_SPEED === '' ? 1 : Number(env.SIM_SPEED);
  if (!Number.isFinite(speed) || speed < 0) problems.push(`SIM_SPEED must be a number >= 0, got "${env.SIM_SPEED}"`);
  const host = env.SIM_HOST || '127.0.0.1';
  const capacity = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (/^\d+$/.test(raw.trim()) && Number(raw) >= 1) return Number(raw);
    problems.push(`${name} must be an integer >= 1, got "${raw}"`);
    return undefined;
  };
  const glm = capacity('SIM_GLM_CAPACITY');
  const kimi = capacity('SIM_KIMI_CAPACITY');
  if (problems.length > 0) throw new SimulatorConfigError(`Invalid simulator config: ${problems.join('; ')}`);
  return { port, host, speed, capacity: { glm, kimi } };
}

async function main(): Promise<void> {
  const config = readEnv(process.env);
  const simulator = new ProviderSimulator({ speed: config.speed, capacity: config.capacity });
  await simulator.start(config.port, config.host);
  process.stdout.write(
    `Provider simulator listening: GLM ${simulator.glmBaseUrl} (key ${SIM_DEFAULT_KEYS.glm.join(', ')}), ` +
      `Kimi ${simulator.kimiBaseUrl} (key ${SIM_DEFAULT_KEYS.kimi.join(', ')}), speed ${config.speed}, ` +
      `capacity GLM ${config.capacity.glm ?? 'unlimited'} Kimi ${config.capacity.kimi ?? 'unlimited'} (change: POST ${simulator.url}/sim/capacity)\n`,
  );
  const shutdown = (): void => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`Provider simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
