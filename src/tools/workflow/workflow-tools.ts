import { Injectable, OnModuleInit } from '@nestjs/common';
import { ToolRegistryService } from '../tool-registry.service';
import { ANALYZE } from './tools/analyze.workflow';
import { CODEREVIEW } from './tools/codereview.workflow';
import { CONSENSUS } from './tools/consensus.workflow';
import { DEBUG } from './tools/debug.workflow';
import { DOCGEN } from './tools/docgen.workflow';
import { PLANNER } from './tools/planner.workflow';
import { PRECOMMIT } from './tools/precommit.workflow';
import { REFACTOR } from './tools/refactor.workflow';
import { SECAUDIT } from './tools/secaudit.workflow';
import { TESTGEN } from './tools/testgen.workflow';
import { TRACER } from './tools/tracer.workflow';
import { WorkflowEngine } from './workflow-engine.service';
import { workflowSchema } from './workflow.schema';
import type { WorkflowDefinition } from './workflow.types';

/** Every workflow tool registered by definition; thinkdeep is registered by its own class (two shapes). */
export const WORKFLOW_TOOLS: readonly WorkflowDefinition[] = [
  ANALYZE,
  CODEREVIEW,
  DEBUG,
  REFACTOR,
  SECAUDIT,
  TESTGEN,
  PRECOMMIT,
  TRACER,
  PLANNER,
  DOCGEN,
  CONSENSUS,
];

/** Registers each definition as a tool whose every call goes through the one engine. */
@Injectable()
export class WorkflowToolsRegistrar implements OnModuleInit {
  constructor(
    private readonly registry: ToolRegistryService,
    private readonly engine: WorkflowEngine,
  ) {}

  onModuleInit(): void {
    for (const def of WORKFLOW_TOOLS) {
      this.registry.register(
        // Not cacheable: every step changes its thread, so identical calls must each run.
        { name: def.name, description: def.description, inputSchema: workflowSchema(def), cacheable: false },
        {
          prepare: (args, ctx) => this.engine.prepare(def, args, ctx.sessionId),
          execute: (args, ctx) => this.engine.execute(def, args, ctx),
        },
      );
    }
  }
}
