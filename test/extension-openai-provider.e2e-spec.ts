import { Inject, Injectable, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { MetricsService } from '../src/metrics/metrics.service';
import type { LlmRequest } from '../src/providers/llm-provider';
import { OpenAiCompatibleLlmProvider, ParsedError } from '../src/providers/openai-compatible.provider';
import { ProviderEndpoints } from '../src/providers/provider-endpoints';
import { providersConfig } from '../src/providers/providers.config';
import { ProvidersModule } from '../src/providers/providers.module';
import { ProviderSimulator } from '../src/simulator/simulator.server';
import { startTestDaemon, TestDaemon } from './support/daemon';
import { TestClient, toolOutput } from './support/ws-client';

const ACME_MODEL = 'acme-1';
/** Where the extension's API lives; set before the daemon is created. */
const acmeApi = { baseUrl: '' };

/**
 * An OpenAI-compatible backend added by an extension module, the way a team
 * would add one: its own id, name, settings and body, nothing edited in
 * src/providers. (Acme resells GLM, so the simulator's GLM API stands in.)
 */
@Injectable()
class AcmeLlmProvider extends OpenAiCompatibleLlmProvider {
  readonly id: string = 'ACME';
  protected readonly displayName = 'Acme';

  constructor(
    @Inject(providersConfig.KEY) config: ConfigType<typeof providersConfig>,
    endpoints: ProviderEndpoints,
    metrics: MetricsService,
  ) {
    const timeouts = { base: 60, webSearch: 60, thinking: 60, webThinking: 60 };
    const settings = { apiKey: 'sim-glm-key', baseUrl: acmeApi.baseUrl, timeouts, models: [ACME_MODEL] };
    super(config, settings, endpoints, metrics, AcmeLlmProvider.name, []);
  }

  protected buildBody(request: LlmRequest, stream: boolean): Record<string, unknown> {
    return { model: 'glm-4.5-flash', messages: this.wireMessages(request.messages), stream };
  }

  protected parseError(status: number): ParsedError {
    return { message: `HTTP ${status}`, retryable: status >= 500 };
  }
}

@Module({ imports: [ProvidersModule], providers: [AcmeLlmProvider] })
class AcmeModule {}

/** Ids a team might pick that no `EXAI_WS_<ID>_MAX_INFLIGHT` could configure, or that clash. */
@Injectable()
class AcmeEuLlmProvider extends AcmeLlmProvider {
  override readonly id = 'acme-eu';
}
@Injectable()
class AcmeGlobalLlmProvider extends AcmeLlmProvider {
  override readonly id = 'GLOBAL';
}
@Injectable()
class AcmeAsGlmLlmProvider extends AcmeLlmProvider {
  override readonly id = 'GLM';
}
@Module({ imports: [ProvidersModule], providers: [AcmeEuLlmProvider, AcmeGlobalLlmProvider, AcmeAsGlmLlmProvider] })
class BadIdsModule {}

describe('an OpenAI-compatible extension provider', () => {
  const acme = new ProviderSimulator({ speed: 0 });
  let daemon: TestDaemon | undefined;
  let client: TestClient | undefined;

  beforeAll(async () => {
    await acme.start();
    acmeApi.baseUrl = acme.glmBaseUrl;
  });
  afterAll(() => acme.stop());
  afterEach(async () => {
    client?.close();
    await daemon?.close();
    daemon = client = undefined;
  });

  it('gets its endpoint from the same factory, and keeps its real API while GLM and Kimi are simulated', async () => {
    daemon = await startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' }, { extensions: [AcmeModule] });
    const health = (await (await fetch(`${daemon.httpUrl}/health`)).json()) as {
      details: { providers: { mode: string; providers: Record<string, { mode: string; configured: boolean }> } };
    };
    const { mode, providers } = health.details.providers;
    expect(mode).toBe('simulated');
    expect(providers.ACME).toMatchObject({ mode: 'real', configured: true });
    expect(providers.GLM).toMatchObject({ mode: 'simulated', configured: true });

    client = await TestClient.ready(daemon.url);
    client.send({
      op: 'call_tool',
      request_id: 'acme',
      name: 'chat',
      arguments: { prompt: 'hello acme', model: ACME_MODEL },
    });
    const out = toolOutput(await client.result('acme', 20_000));
    expect(out.content).toBe('SIM glm-4.5-flash: hello acme');
    // The model is the one the API says it ran.
    expect(out.metadata).toMatchObject({ provider: 'ACME', model: 'glm-4.5-flash' });
    expect(acme.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);
  });

  it('an id no limit variable can name, a reserved one, or one already taken stops the boot, naming each', async () => {
    const boot = startTestDaemon({ EXAI_PROVIDERS_MODE: 'simulated' }, { extensions: [BadIdsModule] });
    await expect(boot).rejects.toThrow(
      'Invalid configuration:\n' +
        '  - provider id "acme-eu" (AcmeEuLlmProvider): an id is upper-case letters and digits, so that EXAI_WS_<ID>_MAX_INFLIGHT can name it\n' +
        '  - provider id GLOBAL (AcmeGlobalLlmProvider) is reserved: EXAI_WS_GLOBAL_MAX_INFLIGHT is the global limit\n' +
        '  - provider id GLM is taken by AcmeAsGlmLlmProvider and GlmLlmProvider: each provider needs its own',
    );
  });
});
