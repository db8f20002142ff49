import 'reflect-metadata';
import { startDaemon } from '../src/app.setup';
import { serveBenchChild } from './bench.process';
import { BenchToolsModule } from './noop-tools.module';

/** A daemon with the no-op tool, in its own process, driven by the daemon section. */
async function main(): Promise<void> {
  const app = await startDaemon({ port: 0, extensions: [BenchToolsModule] });
  const url = (await app.getUrl()).replace(/^http/, 'ws').replace('[::1]', '127.0.0.1') + '/';
  serveBenchChild(url, () => app.close());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
