import { Injectable } from '@nestjs/common';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { UnknownModelError } from '../tools/tools.errors';
import { AUTO_MODEL_OWNER } from './openai.constants';
import { toOpenAiError } from './openai.errors';

/** One entry of `GET /v1/models`, in OpenAI's shape. */
export interface OpenAiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Every model the daemon can serve, owned by its provider, plus `auto` (the routing rules). */
@Injectable()
export class OpenAiModelsService {
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly providers: LlmProviderRegistry) {}

  list(): OpenAiModel[] {
    const models = this.providers
      .all()
      .filter((p) => p.status().configured)
      .flatMap((p) => p.modelIds().map((id) => this.entry(id, p.id.toLowerCase())));
    return [this.entry('auto', AUTO_MODEL_OWNER), ...models];
  }

  /**
   * An alias or any spelling answers with the canonical model it means, as a
   * chat completion with that name would be served by it.
   * @throws OpenAiApiError 404 for a model no provider serves.
   */
  get(id: string): OpenAiModel {
    const canonical = id === 'auto' ? id : (this.providers.resolveModel(id)?.model.id ?? id);
    const found = this.list().find((m) => m.id === canonical);
    if (found) return found;
    throw toOpenAiError(
      new UnknownModelError(
        id,
        this.list().map((m) => m.id),
      ),
    );
  }

  private entry(id: string, owner: string): OpenAiModel {
    return { id, object: 'model', created: this.created, owned_by: owner };
  }
}
