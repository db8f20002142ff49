import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { continuationOf, LlmCallService, plannedRoute, textArg } from '../llm-call.service';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { WorkflowEngine } from '../workflow/workflow-engine.service';
import { workflowSchema } from '../workflow/workflow.schema';
import { THINKDEEP, THINKDEEP_SYSTEM_PROMPT } from '../workflow/tools/thinkdeep.workflow';

const WORKFLOW_FIELDS = workflowSchema(THINKDEEP).properties as Record<string, Record<string, unknown>>;

/** A call in the old workflow shape (step_number and friends) rather than today's `prompt` shape. */
function isWorkflowCall(args: Record<string, unknown>): boolean {
  return args.step_number !== undefined;
}

// Two shapes: today's {prompt} (one model call) and the old workflow's
// {step, step_number, total_steps, next_step_required, findings, …}, which
// pauses locally until its final step.
@ExaiTool({
  name: 'thinkdeep',
  description:
    'Deep reasoning with a thinking model (Kimi quality model by default). Send {prompt} for one answer, or the workflow fields ' +
    '(step, step_number, total_steps, next_step_required, findings) to reason in steps: intermediate steps answer at once with no ' +
    'model call, the final one asks the thinking model to extend and test your reasoning.',
  inputSchema: {
    type: 'object',
    properties: {
      ...WORKFLOW_FIELDS,
      prompt: {
        type: 'string',
        minLength: 1,
        description: 'The question or problem to think through (one-call shape).',
      },
      step: {
        ...WORKFLOW_FIELDS.step,
        description: 'Workflow shape: this step’s description (or, alone, the question).',
      },
      findings: { type: 'string', maxLength: 50_000, description: 'What you have found so far.' },
      model: { type: 'string', default: 'auto', description: 'Model to use; "auto" lets the routing rules choose.' },
      use_websearch: { type: 'boolean', default: false, description: 'Let the model use the provider’s web search.' },
    },
    anyOf: [{ required: ['prompt'] }, { required: ['step'] }],
    if: { required: ['step_number'] },
    then: { required: ['step', 'step_number', 'total_steps', 'next_step_required', 'findings'] },
  },
  cacheable: false,
})
@Injectable()
export class ThinkDeepTool implements ExaiToolHandler {
  constructor(
    private readonly llm: LlmCallService,
    private readonly workflow: WorkflowEngine,
  ) {}

  prepare(args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    if (isWorkflowCall(args)) return this.workflow.prepare(THINKDEEP, args, ctx.sessionId);
    return this.llm.prepare('thinkdeep', args, {
      deep: true,
      web: args.use_websearch === true,
      prompt: `${textArg(args.prompt) || textArg(args.step)}${textArg(args.findings)}`,
      sessionId: ctx.sessionId,
      recordsThread: true,
    });
  }

  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    if (isWorkflowCall(args)) return this.workflow.execute(THINKDEEP, args, ctx);
    const prompt = [
      args.prompt ?? args.step,
      typeof args.findings === 'string' && args.findings ? `Findings so far:\n${args.findings}` : '',
    ]
      .filter((p) => typeof p === 'string' && p !== '')
      .join('\n\n');
    return this.llm.run(
      plannedRoute(ctx),
      {
        prompt,
        systemPrompt: THINKDEEP_SYSTEM_PROMPT,
        continuationId: continuationOf(args),
      },
      ctx,
    );
  }
}
