import { Injectable } from '@nestjs/common';
import type { LlmMessage } from '../../providers/llm-provider';
import { ExaiTool } from '../exai-tool.decorator';
import { isExplicitModel, LlmCallService, plannedRoute } from '../llm-call.service';
import { ProviderFilesService } from '../provider-files.service';
import { SCHEMA } from '../tool-schema';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

const MAX_FILE_IDS = 20;
/** Extracted text read per file; the model's context window is the real limit, and Kimi names it if exceeded. */
const MAX_CONTENT_BYTES = 2 * 1024 * 1024;

@ExaiTool({
  name: 'kimi_chat_with_files',
  description:
    'Asks Kimi about files uploaded with kimi_upload_files: their extracted text goes to the model as system messages, then your prompt.',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1, description: 'Your question about the files.' },
      file_ids: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_FILE_IDS,
        items: { type: 'string', minLength: 1 },
        description: `Kimi file ids from kimi_upload_files (at most ${MAX_FILE_IDS}).`,
      },
      model: SCHEMA.model,
      temperature: { ...SCHEMA.temperature, default: 0.3 },
      system_prompt: SCHEMA.systemPrompt,
    },
    required: ['prompt', 'file_ids'],
    additionalProperties: false,
  },
})
@Injectable()
export class KimiChatWithFilesTool implements ExaiToolHandler {
  constructor(
    private readonly llm: LlmCallService,
    private readonly files: ProviderFilesService,
  ) {}

  async prepare(args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    const prepared = await this.llm.prepare('kimi_chat_with_files', args, {
      deep: false,
      web: false,
      prompt: String(args.prompt),
      sessionId: ctx.sessionId,
    });
    // The file ids are Kimi's: no other provider can read them, so there is no fallback.
    if (prepared.provider !== 'KIMI') {
      throw new InvalidArgumentsError(
        isExplicitModel(args.model)
          ? `kimi_chat_with_files needs a Kimi model, not "${String(prepared.args.model)}"`
          : 'kimi_chat_with_files needs Kimi, which is unavailable now',
        { model: prepared.args.model },
      );
    }
    return prepared;
  }

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const kimi = this.files.api('KIMI');
    const messages: LlmMessage[] = [];
    if (typeof args.system_prompt === 'string') messages.push({ role: 'system', content: args.system_prompt });
    const truncated: string[] = [];
    for (const id of args.file_ids as string[]) {
      ctx.progress(`reading Kimi file ${id}`);
      const content = await kimi.fileContent(id, {
        signal: ctx.signal,
        deadline: ctx.deadline,
        maxBytes: MAX_CONTENT_BYTES,
      });
      if (content.truncated) truncated.push(id);
      messages.push({ role: 'system', content: content.text });
    }
    messages.push({ role: 'user', content: String(args.prompt) });
    const { result, metadata } = await this.llm.complete(
      plannedRoute(ctx),
      messages,
      { temperature: typeof args.temperature === 'number' ? args.temperature : undefined },
      ctx,
    );
    metadata.file_ids = args.file_ids;
    if (truncated.length > 0) metadata.truncated_file_ids = truncated;
    return { content: result.content, contentType: 'text', metadata };
  }
}
