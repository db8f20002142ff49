import { Injectable, Module } from '@nestjs/common';
import {
  LlmCallOptions,
  LlmModelInfo,
  LlmProvider,
  LlmProviderStatus,
  LlmRequest,
  LlmResult,
} from '../../src/providers/llm-provider';

/** The id of the extension provider, and so the name of its concurrency limit. */
export const TEST_PROVIDER_ID = 'LOCAL';
export const TEST_PROVIDER_MODEL = 'local-gate';

/**
 * An LLM backend added by an extension module, the way a team would add one:
 * a subclass of LlmProvider in its own module. Each completion waits until
 * the test releases it (or the call is aborted), so a test can hold calls
 * in flight.
 */
@Injectable()
export class TestLlmProvider extends LlmProvider {
  readonly id = TEST_PROVIDER_ID;
  /** Completions currently waiting to be released. */
  readonly waiting: Array<() => void> = [];

  models(): Promise<LlmModelInfo[]> {
    return Promise.resolve([{ id: TEST_PROVIDER_MODEL }]);
  }

  modelIds(): string[] {
    return [TEST_PROVIDER_MODEL];
  }

  isAvailable(): boolean {
    return true;
  }

  timeoutSecs(): number {
    return 60;
  }

  status(): LlmProviderStatus {
    return { id: this.id, mode: 'real', configured: true, circuit: 'closed' };
  }

  /** Lets every waiting completion answer. */
  releaseAll(): void {
    for (const release of this.waiting.splice(0)) release();
  }

  complete(request: LlmRequest, options: LlmCallOptions): Promise<LlmResult> {
    return new Promise<LlmResult>((resolve, reject) => {
      const onAbort = () => reject(options.signal.reason as Error);
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(() => {
        options.signal.removeEventListener('abort', onAbort);
        resolve({
          content: `answered by ${this.id}`,
          model: request.model,
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          finishReason: 'stop',
          attempts: 1,
        });
      });
    });
  }
}

@Module({ providers: [TestLlmProvider] })
export class TestProviderModule {}
