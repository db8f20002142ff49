import { standaloneSimulatorConfig } from './simulator.config';
import { ProviderSimulator, SIM_DEFAULT_KEYS } from './simulator.server';

// Standalone entry (`npm run simulator`).
async function main(): Promise<void> {
  const config = standaloneSimulatorConfig(process.env);
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
