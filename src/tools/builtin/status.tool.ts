import { Injectable } from '@nestjs/common';
import { HealthService } from '../../health/health.service';
import { DiagnosticsService } from '../diagnostics.service';
import { ExaiTool } from '../exai-tool.decorator';
import { recentCalls } from '../tool-schema';
import { LlmCallService, plannedRoute } from '../llm-call.service';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';

const STATUS_TIMEOUT_SECS = 10;

// No additionalProperties:false: the old status schema accepted any key, and old clients send some.
@ExaiTool({
  name: 'status',
  description:
    "The daemon at a glance: every health indicator, configured providers and models, this session's recent calls and errors, and next steps. doctor adds a listmodels check and advice; probe sends one tiny chat to the default model.",
  inputSchema: {
    type: 'object',
    properties: {
      tail_lines: recentCalls(30, 500),
      include_tools: { type: 'boolean', default: false, description: 'Also list the names of every tool.' },
      doctor: {
        type: 'boolean',
        default: false,
        description: 'Run the self-diagnosis: check the model listing and give advice for what looks wrong.',
      },
      probe: {
        type: 'boolean',
        default: false,
        description:
          'Send one short chat ("ping") to the default model to prove a provider answers; takes that provider\'s permit.',
      },
    },
  },
  cacheable: false,
})
@Injectable()
export class StatusTool implements ExaiToolHandler {
  constructor(
    private readonly health: HealthService,
    private readonly diagnostics: DiagnosticsService,
    private readonly llm: LlmCallService,
  ) {}

  async prepare(args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    if (args.probe !== true) return { args, timeoutSecs: STATUS_TIMEOUT_SECS };
    const prepared = await this.llm.prepare(
      'status',
      { ...args, model: 'auto' },
      { deep: false, web: false, prompt: 'ping', sessionId: ctx.sessionId },
    );
    return { ...prepared, timeoutSecs: Math.min(prepared.timeoutSecs ?? 60, 60) };
  }

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const snapshot = await this.health.snapshot();
    const providers = this.diagnostics.providersConfigured();
    const models = this.diagnostics.modelsAvailable();
    const lastErrors = this.diagnostics.lastErrors(ctx.sessionId);
    const out: Record<string, unknown> = {
      ...snapshot,
      providers_configured: providers,
      models_available: models,
      tools_loaded: this.diagnostics.toolNames().length,
      last_errors: lastErrors,
      recent_activity: this.diagnostics.activityTail(ctx.sessionId, Number(args.tail_lines ?? 30)),
      next_steps: nextSteps(snapshot.status, providers, lastErrors),
    };
    if (args.include_tools === true) out.tools = this.diagnostics.toolNames();
    if (args.doctor === true) {
      out.doctor = {
        probes: { listmodels: { ok: models.length > 0, total_models: models.length } },
        advice: advice(providers, models, snapshot.status),
      };
    }
    if (args.probe === true) out.probe = await this.probe(ctx);
    return { content: JSON.stringify(out), contentType: 'json' };
  }

  private async probe(ctx: ToolContext): Promise<Record<string, unknown>> {
    const { provider, model } = plannedRoute(ctx);
    const started = Date.now();
    try {
      const result = await provider.complete(
        { model, messages: [{ role: 'user', content: 'ping' }], maxTokens: 16 },
        { signal: ctx.signal, deadline: ctx.deadline },
      );
      return { ok: true, provider: provider.id, model: result.model, latency_ms: Date.now() - started };
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      return { ok: false, provider: provider.id, model, error: (err as Error).message };
    }
  }
}

function nextSteps(status: string, providers: string[], lastErrors: string[]): string[] {
  const steps: string[] = [];
  if (providers.length === 0)
    steps.push('Set GLM_API_KEY and/or KIMI_API_KEY (or run with EXAI_PROVIDERS_MODE=simulated).');
  if (status !== 'ok') steps.push('An indicator is down: see its message above, or GET /health.');
  if (lastErrors.length > 0) steps.push('Recent calls failed: the activity tool shows them with their error codes.');
  if (steps.length === 0) steps.push('All good: call chat, or listmodels to see what each model can do.');
  return steps;
}

function advice(providers: string[], models: string[], status: string): string[] {
  const out: string[] = [];
  if (providers.length === 0) out.push('No provider is configured: no tool that calls a model can succeed.');
  if (providers.length === 1) out.push(`Only ${providers[0]} is configured: routing has no fallback provider.`);
  if (models.length === 0 && providers.length > 0)
    out.push('Providers are configured but serve no model: check GLM_MODELS / KIMI_MODELS.');
  if (status !== 'ok') out.push('Some health indicator is down; GET /health/ready says whether calls are accepted.');
  return out;
}
