import { Injectable } from '@nestjs/common';
import { ActivityService } from '../activity/activity.service';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { ToolRegistryService } from './tool-registry.service';

/**
 * The facts the diagnostic tools (status, health, provider_capabilities,
 * self-check) share, from the daemon's own state rather than log files.
 */
@Injectable()
export class DiagnosticsService {
  constructor(
    private readonly providers: LlmProviderRegistry,
    private readonly registry: ToolRegistryService,
    private readonly activity: ActivityService,
  ) {}

  providersConfigured(): string[] {
    return this.providers
      .all()
      .filter((p) => p.status().configured)
      .map((p) => p.id);
  }

  /** Models of configured providers, canonical ids. */
  modelsAvailable(): string[] {
    return this.providers
      .all()
      .filter((p) => p.status().configured)
      .flatMap((p) => p.modelIds());
  }

  toolNames(): string[] {
    return this.registry
      .list()
      .map((t) => t.name)
      .sort();
  }

  /** The caller's most recent finished calls (every session's with EXAI_ACTIVITY_SCOPE=global), as lines. */
  activityTail(sessionId: string, lines: number): string[] {
    if (lines <= 0) return [];
    return this.activity.recent({ sessionId, limit: lines }).map((e) => e.line);
  }

  /** The latest calls that did not succeed, newest last (the old `last_errors`, at most 3). */
  lastErrors(sessionId: string): string[] {
    return this.activity.recent({ sessionId, limit: 3, filter: / outcome=(?!success )/ }).map((e) => e.line);
  }
}
