import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { LlmModelInfo, LlmProvider } from './llm-provider';

/** Every `LlmProvider` subclass instance in the application, ours or an extension's. */
@Injectable()
export class LlmProviderRegistry implements OnModuleInit {
  private providers: LlmProvider[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    const found = new Set<LlmProvider>();
    for (const wrapper of this.discovery.getProviders()) {
      if (wrapper.instance instanceof LlmProvider) found.add(wrapper.instance);
    }
    this.providers = [...found].sort((a, b) => a.id.localeCompare(b.id));
  }

  all(): LlmProvider[] {
    return this.providers;
  }

  get(id: string): LlmProvider | undefined {
    return this.providers.find((p) => p.id === id);
  }

  /** The provider serving `name` (an id or alias, any case) and the canonical model it means. */
  resolveModel(name: string): { provider: LlmProvider; model: LlmModelInfo } | undefined {
    for (const provider of this.providers) {
      const model = provider.resolveModel(name);
      if (model) return { provider, model };
    }
    return undefined;
  }

  /** Every configured model with its provider, for listings and schemas. */
  catalogue(): Array<{ provider: string; model: LlmModelInfo }> {
    return this.providers.flatMap((p) => p.catalogue().map((model) => ({ provider: p.id, model })));
  }
}
