import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { ExaiExpressAdapter } from '../../src/http/express-http.adapter';
import { TestToolsModule, TestToolsProbe } from './test-tools.module';

export interface TestDaemon {
  app: INestApplication;
  url: string;
  httpUrl: string;
  probe: TestToolsProbe;
  close(): Promise<void>;
}

export interface TestDaemonOptions {
  extensions?: Array<Type | DynamicModule>;
  /** A fixed port instead of an OS-chosen one (for restart tests). */
  port?: number;
  /** Replaces providers, e.g. with a subclass that exposes a test hook. */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

const QUIET_DEFAULTS: Record<string, string> = {
  LOG_LEVEL: 'silent',
  EXAI_WS_HOST: '127.0.0.1',
  EXAI_WS_TOKEN: '',
};

/**
 * Runs the real AppModule on 127.0.0.1 with an OS-chosen port. Environment
 * overrides apply only while the daemon is being created.
 */
export async function startTestDaemon(
  env: Record<string, string> = {},
  options: TestDaemonOptions = {},
): Promise<TestDaemon> {
  const merged = { ...QUIET_DEFAULTS, ...env };
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(merged)) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  let app: INestApplication;
  try {
    const root = await AppModule.forRoot({ extensions: [TestToolsModule, ...(options.extensions ?? [])] });
    let builder = Test.createTestingModule({ imports: [root] });
    if (options.override) builder = options.override(builder);
    const moduleRef = await builder.compile();
    app = moduleRef.createNestApplication(new ExaiExpressAdapter(), { bufferLogs: true, abortOnError: false });
    configureApp(app);
    // A boot that fails part way (a bootstrap check) has started timers and
    // servers: close them, or the test process never exits.
    await app.listen(options.port ?? 0, '127.0.0.1').catch(async (err: unknown) => {
      await app.close().catch(() => undefined);
      throw err;
    });
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const httpUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    httpUrl,
    url: httpUrl.replace(/^http/, 'ws') + '/',
    probe: app.get(TestToolsProbe),
    close: () => app.close(),
  };
}

/** Daemon settings that point both real providers at a running simulator. */
export function simulatorEnv(sim: { glmBaseUrl: string; kimiBaseUrl: string }): Record<string, string> {
  return {
    EXAI_PROVIDERS_MODE: 'real',
    GLM_API_KEY: 'sim-glm-key',
    KIMI_API_KEY: 'sim-kimi-key',
    GLM_API_URL: sim.glmBaseUrl,
    KIMI_API_URL: sim.kimiBaseUrl,
  };
}
