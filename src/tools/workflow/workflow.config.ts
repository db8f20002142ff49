import { registerAs } from '@nestjs/config';
import { IsInt, Min } from 'class-validator';
import { EnvInt } from '../../config/env.transforms';
import { parseEnv } from '../../config/validate-config';

export class WorkflowEnv {
  @EnvInt() @IsInt() @Min(1) EXAI_WORKFLOW_MAX_THREADS = 1000;
  @EnvInt() @IsInt() @Min(1024) EXAI_WORKFLOW_MAX_BYTES = 64 * 1024 * 1024;
  @EnvInt() @IsInt() @Min(1024) EXAI_WORKFLOW_THREAD_MAX_BYTES = 4 * 1024 * 1024;
  @EnvInt() @IsInt() @Min(1) EXAI_WORKFLOW_TTL_SECS = 3 * 60 * 60;
  @EnvInt() @IsInt() @Min(1) EXAI_GIT_TIMEOUT_SECS = 20;
  @EnvInt() @IsInt() @Min(1024) EXAI_GIT_MAX_BYTES = 2 * 1024 * 1024;
}

export interface WorkflowConfig {
  maxThreads: number;
  maxBytes: number;
  threadMaxBytes: number;
  ttlMs: number;
  gitTimeoutMs: number;
  gitMaxBytes: number;
}

export function toWorkflowConfig(env: WorkflowEnv): WorkflowConfig {
  return {
    maxThreads: env.EXAI_WORKFLOW_MAX_THREADS,
    maxBytes: env.EXAI_WORKFLOW_MAX_BYTES,
    threadMaxBytes: env.EXAI_WORKFLOW_THREAD_MAX_BYTES,
    ttlMs: env.EXAI_WORKFLOW_TTL_SECS * 1000,
    gitTimeoutMs: env.EXAI_GIT_TIMEOUT_SECS * 1000,
    gitMaxBytes: env.EXAI_GIT_MAX_BYTES,
  };
}

export const workflowConfig = registerAs('workflow', (): WorkflowConfig =>
  toWorkflowConfig(parseEnv(WorkflowEnv, process.env)),
);
