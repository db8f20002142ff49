import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { CheckedPath, FileAccessService, fileTokenBudget } from '../../files/file-access.service';
import { routingConfig } from '../../routing/routing.config';
import { LlmCallService, plannedRoute } from '../llm-call.service';
import type { PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';
import { readGitState } from './git-state';
import { expertPrompt, parseExpertReply, PAUSING_EXPERT_STATUSES } from './workflow-expert';
import { WorkflowStateService, WorkflowThread } from './workflow-state.service';
import {
  applyStep,
  completionSummary,
  consolidate,
  countsOf,
  newRun,
  normalizeArgs,
  workSummary,
} from './workflow-steps';
import { workflowConfig } from './workflow.config';
import { workflowSchema } from './workflow.schema';
import type { Consolidated, ConsultingDefinition, ToolRun, WorkflowDefinition } from './workflow.types';

const DEEP_MODES = new Set(['medium', 'high', 'max']);
const DEFAULT_CONTEXT_TOKENS = 128_000;

/** What a call will do, decided before admission so only model calls take a permit. */
type Decision =
  | { kind: 'local' }
  | { kind: 'expert'; deep: boolean; web: boolean }
  | { kind: 'consult'; model: string; stance: string; stancePrompt?: string };

type Response = Record<string, unknown>;

/**
 * The step machine, held once for every workflow tool. An intermediate step is
 * answered locally (no model, no permit); the final step completes locally or
 * calls the expert as an ordinary model call; consensus consults one model per step.
 */
@Injectable()
export class WorkflowEngine {
  private readonly defaults = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly state: WorkflowStateService,
    private readonly files: FileAccessService,
    private readonly llm: LlmCallService,
    @Inject(workflowConfig.KEY) private readonly config: ConfigType<typeof workflowConfig>,
    @Inject(routingConfig.KEY) private readonly routing: ConfigType<typeof routingConfig>,
  ) {}

  /**
   * Checks the step against the thread, decides whether it needs a model and,
   * if so, resolves the model, provider and deadline. A local step is marked
   * `local`, so the gateway runs it without a permit. The decision travels in
   * the plan to execute().
   */
  async prepare(def: WorkflowDefinition, raw: Record<string, unknown>, sessionId: string): Promise<PreparedCall> {
    const args = normalizeArgs(def, raw);
    if ('consult' in def) this.defaultModels(args);
    const thread = await this.threadFor(args, sessionId);
    const run = structuredClone(thread?.runs[def.name]) ?? newRun(def.name);
    this.checkStep(def, args, run);
    applyStep(def, run, args, this.defaultsOf(def));
    const decision = this.decide(def, args, run);
    let prepared: PreparedCall;
    if (decision.kind === 'local') {
      prepared = { args, local: true };
    } else if (decision.kind === 'consult') {
      const routed = await this.llm.prepare(
        def.name,
        { model: decision.model },
        { deep: false, web: false, prompt: '', sessionId },
      );
      decision.model = String(routed.args.model);
      prepared = { args, route: routed.route, provider: routed.provider, timeoutSecs: routed.timeoutSecs };
    } else {
      const c = consolidate(run);
      // The files are not read yet; their share is bounded by the model's file budget.
      prepared = await this.llm.prepare(def.name, args, {
        deep: decision.deep,
        web: decision.web,
        prompt: `${c.initialRequest}\n${workSummary(c)}`,
        sessionId,
        // The id names this workflow's own thread (checked above), not a chat conversation.
        threadMustExist: false,
      });
    }
    return { ...prepared, decision };
  }

  async execute(def: WorkflowDefinition, args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const thread = (await this.threadFor(args, ctx.sessionId)) ?? this.state.create(ctx.sessionId);
    const run = thread.runs[def.name] ?? newRun(def.name);
    thread.runs[def.name] = run;
    this.checkStep(def, args, run);
    const checked = await this.checkPaths(def, args);
    applyStep(def, run, args, this.defaultsOf(def));
    const decision = ctx.plan.decision as Decision;
    if ('consult' in def && decision.kind === 'consult') {
      return this.consult(def as ConsultingDefinition, thread, run, args, decision, ctx);
    }
    await this.state.save(thread);
    const c = consolidate(run);
    const base = this.base(def, args, run, c, thread.id);
    if (args.next_step_required === true) return this.answer(this.pause(def, run, args, c, base, checked));
    if (decision.kind === 'expert') return this.expert(def, thread, run, args, c, base, decision, ctx);
    return this.answer(this.completeLocally(def, run, args, c, base));
  }

  /**
   * Consensus called without `models` (old clients relied on the server
   * choosing): the quality model of each configured provider, neutral.
   */
  private defaultModels(args: Record<string, unknown>): void {
    if (Number(args.step_number) !== 1 || (Array.isArray(args.models) && args.models.length > 0)) return;
    const available = new Set(this.llm.availableModels());
    const models = [this.routing.kimiQualityModel, this.routing.glmQualityModel].filter((m) => available.has(m));
    if (models.length > 0) args.models = models.map((model) => ({ model, stance: 'neutral' }));
  }

  private async threadFor(args: Record<string, unknown>, sessionId: string): Promise<WorkflowThread | undefined> {
    const id = args.continuation_id;
    return typeof id === 'string' && id !== '' ? this.state.require(id, sessionId) : undefined;
  }

  private defaultsOf(def: WorkflowDefinition): Record<string, unknown> {
    let d = this.defaults.get(def.name);
    if (!d) {
      d = {};
      const props = workflowSchema(def).properties as Record<string, { default?: unknown }>;
      for (const [k, v] of Object.entries(props)) if (v.default !== undefined) d[k] = v.default;
      this.defaults.set(def.name, d);
    }
    return d;
  }

  private checkStep(def: WorkflowDefinition, args: Record<string, unknown>, run: ToolRun): void {
    const n = Number(args.step_number);
    if (typeof args.backtrack_from_step === 'number' && args.backtrack_from_step >= n) {
      throw new InvalidArgumentsError(
        `${def.name}: backtrack_from_step (${args.backtrack_from_step}) must be below step_number (${n})`,
        { backtrack_from_step: args.backtrack_from_step, step_number: n },
      );
    }
    const problem = def.checkStep?.(args, run.steps.length > 0 ? run : undefined);
    if (problem) throw new InvalidArgumentsError(`${def.name}: ${problem}`, { step_number: n });
  }

  private decide(def: WorkflowDefinition, args: Record<string, unknown>, run: ToolRun): Decision {
    if ('consult' in def) {
      const n = Number(args.step_number);
      const models = n === 1 || !run.models ? modelsOf(args) : run.models;
      const entry = models[n - 1];
      if (!entry) {
        throw new InvalidArgumentsError(
          `consensus: step ${n} has no model to consult (the list has ${models.length})`,
          { step_number: n },
        );
      }
      return { kind: 'consult', model: entry.model, stance: entry.stance, stancePrompt: entry.stance_prompt };
    }
    const spec = def.expert;
    if (!spec || args.next_step_required === true || args.use_assistant_model === false) return { kind: 'local' };
    const c = consolidate(run);
    if (spec.skipOn.includes(c.confidence) || !spec.wants(c)) return { kind: 'local' };
    return {
      kind: 'expert',
      deep: spec.deepThinking || DEEP_MODES.has(String(args.thinking_mode)),
      web: args.use_websearch === true,
    };
  }

  /** Every path field checked against the roots; with file reading off, paths stay names only. */
  private async checkPaths(
    def: WorkflowDefinition,
    args: Record<string, unknown>,
  ): Promise<Map<string, CheckedPath[]>> {
    const out = new Map<string, CheckedPath[]>();
    if (this.files.roots.length === 0) return out;
    for (const field of ['relevant_files', 'files_checked', 'images', ...(def.pathFields ?? [])]) {
      const v = args[field];
      let list = typeof v === 'string' ? [v] : Array.isArray(v) ? (v as string[]) : [];
      // Inline images (data: URLs) carry their bytes with them: there is no path to check.
      if (field === 'images') list = list.filter((p) => !p.startsWith('data:'));
      if (list.length > 0) out.set(field, await this.files.check(list, field));
    }
    return out;
  }

  private base(
    def: WorkflowDefinition,
    args: Record<string, unknown>,
    run: ToolRun,
    c: Consolidated,
    threadId: string,
  ): Response {
    return {
      status: '',
      step_number: args.step_number,
      total_steps: args.total_steps,
      next_step_required: args.next_step_required,
      [def.names.statusKey]: { ...countsOf(c), ...(def.statusExtras?.(c, run) ?? {}) },
      continuation_id: threadId,
      metadata: { tool_name: def.name, model_used: null, provider_used: null },
    };
  }

  private pause(
    def: WorkflowDefinition,
    run: ToolRun,
    args: Record<string, unknown>,
    c: Consolidated,
    base: Response,
    checked: Map<string, CheckedPath[]>,
  ): Response {
    const n = Number(args.step_number);
    const total = Number(args.total_steps);
    const override = def.intermediate?.(run, args);
    const names = c.relevantFiles.map((f) => f.split('/').at(-1)).join(', ');
    const response: Response = {
      ...base,
      status: override?.status ?? def.names.pause,
      [`${def.name}_required`]: true,
      required_actions: def.requiredActions(n, c.confidence, args),
      next_steps:
        `Do the required actions now, without calling ${def.name} again until they are done. ` +
        `Then call ${def.name} with step_number ${n + 1}, this continuation_id, your new findings, and ` +
        `next_step_required false when that step finishes the work.`,
      continuation_required: true,
      continuation_available: true,
      next_step_number: n + 1,
      file_context: {
        type: 'reference_only',
        note: names ? `Files are read only on the final step; referenced so far: ${names}.` : 'No relevant files yet.',
        ...(this.files.roots.length === 0 ? { file_reading: 'off on this daemon (EXAI_FILE_ROOTS is empty)' } : {}),
        checked: [...checked.values()].reduce((a, l) => a + l.length, 0),
      },
      next_call: {
        tool: def.name,
        arguments: {
          step: '<what you investigated in this step>',
          step_number: n + 1,
          total_steps: Math.max(total, n + 1),
          next_step_required: n + 1 < total,
          ...(def.required.includes('findings') ? { findings: '<what you found>' } : {}),
          continuation_id: base.continuation_id,
        },
      },
      ...(override?.fields ?? {}),
    };
    return response;
  }

  private completeLocally(
    def: WorkflowDefinition,
    run: ToolRun,
    args: Record<string, unknown>,
    c: Consolidated,
    base: Response,
  ): Response {
    const response: Response = {
      ...base,
      next_call: this.echoCall(def, args, base),
      ...(def.completionExtras?.(c, run) ?? {}),
    };
    const summary = completionSummary(c);
    if (!def.expert) {
      const done = def.final?.(run, c, args);
      return {
        ...response,
        status: done?.status ?? def.names.complete,
        [def.names.complete]: true,
        [def.names.completeKey]: summary,
        ...(done?.fields ?? {}),
      };
    }
    if (def.expert.skipOn.includes(c.confidence)) {
      return {
        ...response,
        status: def.names.certainSkip,
        [def.names.complete]: true,
        [def.names.completeKey]: { ...summary, final_analysis: workSummary(c) },
        skip_expert_analysis: true,
        expert_analysis: {
          status: def.names.skipStatus,
          reason: `Confidence "${c.confidence}" on the final step: the expert review was skipped.`,
        },
        next_steps: `Proceed on your own findings: ${def.names.complete.replace(/_/g, ' ')}. Present the result to the user.`,
      };
    }
    const byRequest = args.use_assistant_model === false;
    return {
      ...response,
      status: 'local_work_complete',
      [def.names.complete]: true,
      [def.names.completeKey]: summary,
      expert_analysis: {
        status: byRequest ? 'skipped_by_request' : 'skipped_insufficient_data',
        reason: byRequest
          ? 'use_assistant_model was false.'
          : 'Not enough material for an expert review (no relevant files, issues or repeated findings).',
      },
      next_steps: 'The work is complete on your findings alone. Present the result to the user.',
    };
  }

  private async expert(
    def: WorkflowDefinition,
    thread: WorkflowThread,
    run: ToolRun,
    args: Record<string, unknown>,
    c: Consolidated,
    base: Response,
    decision: { deep: boolean; web: boolean },
    ctx: ToolContext,
  ): Promise<ToolResult> {
    const spec = def.expert!;
    const route = plannedRoute(ctx);
    const { model, provider } = route;
    const files = await this.expertFiles(spec.embedFiles, thread, c, model, provider, ctx.signal);
    if ('tooLarge' in files)
      return this.answer({ ...base, ...files.tooLarge, next_call: this.echoCall(def, args, base) });
    const extra = spec.readsGit ? await this.gitSections(run, ctx.signal) : [];
    const prompt = expertPrompt(def, run, c, files, extra);
    ctx.progress(`${def.name}: asking the expert (${model})`);
    const result = await this.llm.run(
      route,
      {
        prompt,
        systemPrompt: spec.systemPrompt,
        temperature: typeof args.temperature === 'number' ? args.temperature : spec.temperature,
        continuationId: thread.id,
      },
      ctx,
    );
    thread.embeddedFiles = [...new Set([...thread.embeddedFiles, ...(files.embedded ?? [])])];
    await this.state.save(thread);
    const analysis = parseExpertReply(result.content);
    const meta = result.metadata ?? {};
    const response: Response = {
      ...base,
      metadata: { tool_name: def.name, model_used: meta.model, provider_used: meta.provider },
      file_context: {
        type: files.block ? 'fully_embedded' : 'reference_only',
        files_embedded: files.embedded?.length ?? 0,
        ...(files.note ? { note: files.note } : {}),
      },
      next_call: this.echoCall(def, args, base),
    };
    const expertStatus = typeof analysis.status === 'string' ? analysis.status : '';
    if (PAUSING_EXPERT_STATUSES.has(expertStatus)) {
      return this.answer(
        {
          ...response,
          status: expertStatus,
          content: JSON.stringify(analysis),
          next_steps:
            'The expert needs more before it can conclude. Gather what it asks for, add the files to relevant_files, ' +
            `and call ${def.name} again with this continuation_id and next_step_required false.`,
        },
        meta,
      );
    }
    return this.answer(
      {
        ...response,
        status: 'calling_expert_analysis',
        ...(def.completionExtras?.(c, run) ?? {}),
        [def.names.complete]: true,
        [def.names.completeKey]: completionSummary(c),
        expert_analysis: analysis,
        next_steps:
          'Review the expert analysis against your own findings: keep what the code confirms, question what it does not, ' +
          'then present the result to the user.',
        important_considerations: spec.considerations,
      },
      meta,
    );
  }

  /** The files block for the expert: each file once, within the model's budget, skipping ones this thread already sent. */
  private async expertFiles(
    embed: boolean,
    thread: WorkflowThread,
    c: Consolidated,
    model: string,
    provider: { models(): Promise<Array<{ id: string; contextWindow?: number }>> },
    signal: AbortSignal,
  ): Promise<{ tooLarge: Record<string, unknown> } | { block?: string; note?: string; embedded?: string[] }> {
    if (c.relevantFiles.length === 0) return {};
    if (this.files.roots.length === 0) {
      return { note: 'File contents are not available: this daemon reads no files (EXAI_FILE_ROOTS is empty).' };
    }
    if (!embed) return {};
    const checked = await this.files.expand(
      await this.files.check(c.relevantFiles, 'relevant_files'),
      'relevant_files',
    );
    const already = new Set(thread.embeddedFiles);
    const fresh = checked.filter((p) => !already.has(p.real));
    const skipped = checked.filter((p) => already.has(p.real)).map((p) => p.requested);
    const note =
      skipped.length > 0
        ? `Already sent earlier in this conversation, so not repeated: ${skipped.join(', ')}.`
        : undefined;
    if (fresh.length === 0) return { note };
    const info = (await provider.models()).find((m) => m.id === model);
    const out = await this.files.embed(fresh, fileTokenBudget(info?.contextWindow ?? DEFAULT_CONTEXT_TOKENS), signal);
    if (!out.ok) return { tooLarge: { ...out.tooLarge } };
    return { block: out.embedded.text, note, embedded: fresh.map((p) => p.real) };
  }

  private async gitSections(run: ToolRun, signal: AbortSignal): Promise<string[]> {
    const s = run.settings;
    if (typeof s.path !== 'string' || this.files.roots.length === 0) return [];
    const [repo] = await this.files.check([s.path], 'path');
    const sections = await readGitState({
      cwd: repo.real,
      compareTo: typeof s.compare_to === 'string' && s.compare_to !== '' ? s.compare_to : undefined,
      includeStaged: s.include_staged !== false,
      includeUnstaged: s.include_unstaged !== false,
      timeoutMs: this.config.gitTimeoutMs,
      maxBytes: this.config.gitMaxBytes,
      signal,
    });
    signal.throwIfAborted();
    return sections.map((sec) => `## Git: ${sec.title}\n\`\`\`\n${sec.text}\n\`\`\``);
  }

  private async consult(
    def: ConsultingDefinition,
    thread: WorkflowThread,
    run: ToolRun,
    args: Record<string, unknown>,
    decision: { model: string; stance: string; stancePrompt?: string },
    ctx: ToolContext,
  ): Promise<ToolResult> {
    const n = Number(args.step_number);
    if (n === 1 || !run.models) run.models = modelsOf(args);
    const total = run.models.length;
    await this.state.save(thread);
    const c = consolidate(run);
    const route = plannedRoute(ctx);
    const files = await this.expertFiles(
      true,
      { ...thread, embeddedFiles: [] },
      c,
      decision.model,
      route.provider,
      ctx.signal,
    );
    if ('tooLarge' in files)
      return this.answer({ status: 'code_too_large', ...files.tooLarge, continuation_id: thread.id });
    const prompt = [
      `## Proposal to evaluate\n${c.initialRequest}`,
      ...(files.block ? [`## Files (line numbers are for reference only)\n${files.block}`] : []),
      ...(files.note ? [files.note] : []),
    ].join('\n\n');
    ctx.progress(`consensus: consulting ${decision.model} (${decision.stance})`);
    // Each model is blind: no thread history, no agent findings, no other model's answer.
    const result = await this.llm.run(
      route,
      {
        prompt,
        systemPrompt: def.consult.systemPrompt(decision.stance, decision.stancePrompt),
        temperature: def.consult.temperature,
      },
      ctx,
    );
    const meta = result.metadata ?? {};
    const modelResponse = {
      model: decision.model,
      stance: decision.stance,
      status: 'success' as const,
      verdict: result.content,
      metadata: { provider: String(meta.provider), model_name: String(meta.model) },
    };
    const responses = (run.responses ?? []).slice(0, n - 1);
    responses[n - 1] = modelResponse;
    run.responses = responses;
    await this.state.save(thread);
    const last = n >= total;
    const response: Response = {
      status:
        n === 1 && !last
          ? 'analysis_and_first_model_consulted'
          : last
            ? 'consensus_workflow_complete'
            : 'model_consulted',
      step_number: n,
      total_steps: total,
      next_step_required: !last,
      continuation_id: thread.id,
      model_consulted: decision.model,
      model_stance: decision.stance,
      model_response: modelResponse,
      current_model_index: n,
      accumulated_responses: responses,
      metadata: {
        tool_name: def.name,
        workflow_type: 'multi_model_consensus',
        model_consulted: decision.model,
        provider_used: meta.provider,
      },
    };
    if (n === 1)
      response.agent_analysis = { initial_analysis: c.initialRequest, findings: run.steps[0]?.findings ?? '' };
    if (last) {
      response.consensus_complete = true;
      response.complete_consensus = {
        initial_prompt: c.initialRequest,
        models_consulted: responses.map((r) => `${r.model}:${r.stance}`),
        total_responses: responses.length,
        consensus_confidence: 'high',
      };
      response.next_steps =
        'Every model has answered. Weigh the verdicts: state where they agree, where they differ and why, ' +
        'then give the user one recommendation with its main risks and the next concrete steps.';
    } else {
      response.next_steps = `Note what this model said, then call consensus with step_number ${n + 1} and this continuation_id to consult ${run.models[n].model} (${run.models[n].stance}).`;
      response.next_call = {
        tool: def.name,
        arguments: {
          step: '<your notes on this answer>',
          step_number: n + 1,
          total_steps: total,
          next_step_required: n + 1 < total,
          continuation_id: thread.id,
        },
      };
    }
    return this.answer(response, meta);
  }

  private echoCall(def: WorkflowDefinition, args: Record<string, unknown>, base: Response): Record<string, unknown> {
    return {
      tool: def.name,
      arguments: {
        step: args.step,
        step_number: args.step_number,
        total_steps: args.total_steps,
        next_step_required: args.next_step_required,
        continuation_id: base.continuation_id,
      },
    };
  }

  private answer(response: Response, llmMetadata: Record<string, unknown> = {}): ToolResult {
    return {
      content: JSON.stringify(response),
      contentType: 'json',
      metadata: { ...llmMetadata, continuation_id: response.continuation_id, workflow_status: response.status },
    };
  }
}

/** Consensus's models with their defaults, as sent at step 1. */
export function modelsOf(
  args: Record<string, unknown>,
): Array<{ model: string; stance: string; stance_prompt?: string }> {
  const list = Array.isArray(args.models) ? (args.models as Array<Record<string, unknown>>) : [];
  return list.map((m) => ({
    model: String(m.model),
    stance: typeof m.stance === 'string' ? m.stance : 'neutral',
    ...(typeof m.stance_prompt === 'string' ? { stance_prompt: m.stance_prompt } : {}),
  }));
}
