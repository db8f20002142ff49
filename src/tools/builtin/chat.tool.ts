import { Injectable } from '@nestjs/common';
import { FileAccessService, fileTokenBudget } from '../../files/file-access.service';
import { ExaiTool } from '../exai-tool.decorator';
import { continuationOf, LlmCallService, plannedRoute, textArg } from '../llm-call.service';
import { SCHEMA, useWebsearch } from '../tool-schema';
import type { ExaiToolHandler, PrepareContext, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

export const THINKING_MODES = ['minimal', 'low', 'medium', 'high', 'max'] as const;
const DEEP_MODES = new Set(['medium', 'high', 'max']);
const MAX_IMAGES = 10;

@ExaiTool({
  name: 'chat',
  description:
    'General chat and second opinions with GLM or Kimi. model "auto" picks a fast model, a thinking one for thinking_mode medium and above, and a vision model when images are attached.',
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', minLength: 1, description: 'Your question or request.' },
      model: SCHEMA.model,
      system_prompt: SCHEMA.systemPrompt,
      temperature: SCHEMA.temperature,
      thinking_mode: {
        enum: [...THINKING_MODES],
        description:
          'How hard to think: medium, high and max route "auto" to a thinking model and turn thinking on where the model supports it; minimal and low do not.',
      },
      use_websearch: useWebsearch(false, "the provider's built-in search"),
      continuation_id: SCHEMA.continuationId,
      files: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description:
          "Absolute paths of files or folders (under EXAI_FILE_ROOTS) whose text is added to the prompt with line numbers; folders add their code and text files. Too much for the model's file budget is refused with code_too_large.",
      },
      images: {
        type: 'array',
        maxItems: MAX_IMAGES,
        items: { type: 'string', minLength: 1 },
        description: `Up to ${MAX_IMAGES} images for a vision model, as data:image/…;base64 URLs or http(s) URLs. A model without vision refuses them.`,
      },
      stream: SCHEMA.stream,
    },
    required: ['prompt'],
    additionalProperties: false,
  },
})
@Injectable()
export class ChatTool implements ExaiToolHandler {
  constructor(
    private readonly llm: LlmCallService,
    private readonly files: FileAccessService,
  ) {}

  prepare(args: Record<string, unknown>, ctx: PrepareContext): Promise<PreparedCall> {
    const images = imagesOf(args);
    return this.llm.prepare('chat', args, {
      deep: DEEP_MODES.has(String(args.thinking_mode)),
      web: args.use_websearch === true,
      prompt: `${textArg(args.system_prompt)}${String(args.prompt)}`,
      sessionId: ctx.sessionId,
      vision: images.length > 0,
      recordsThread: true,
    });
  }

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const route = plannedRoute(ctx);
    const attached = await this.embedFiles(args, route.model, ctx);
    return this.llm.run(
      route,
      {
        prompt: String(args.prompt),
        attachment: attached,
        images: imagesOf(args),
        systemPrompt: typeof args.system_prompt === 'string' ? args.system_prompt : undefined,
        temperature: typeof args.temperature === 'number' ? args.temperature : undefined,
        continuationId: continuationOf(args),
      },
      ctx,
    );
  }

  /** The files block for the prompt, within the model's file budget. @throws InvalidArgumentsError (code_too_large). */
  private async embedFiles(
    args: Record<string, unknown>,
    model: string,
    ctx: ToolContext,
  ): Promise<{ text: string; files: string[] } | undefined> {
    const paths = Array.isArray(args.files) ? (args.files as string[]) : [];
    if (paths.length === 0) return undefined;
    const checked = await this.files.expand(await this.files.check(paths, 'files'), 'files');
    const window = this.llm.resolveModel(model).model.contextWindow ?? 128_000;
    const outcome = await this.files.embed(checked, fileTokenBudget(window), ctx.signal);
    if (!outcome.ok) {
      throw new InvalidArgumentsError(outcome.tooLarge.content, {
        status: outcome.tooLarge.status,
        ...outcome.tooLarge.metadata,
      });
    }
    ctx.progress(`embedded ${outcome.embedded.files.length} files (~${outcome.embedded.tokens} tokens)`);
    return { text: outcome.embedded.text, files: outcome.embedded.files };
  }
}

const IMAGE_URL = /^(data:image\/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+|https?:\/\/\S+)$/i;

function imagesOf(args: Record<string, unknown>): string[] {
  const images = Array.isArray(args.images) ? (args.images as string[]) : [];
  images.forEach((image, i) => {
    if (!IMAGE_URL.test(image)) {
      throw new InvalidArgumentsError(
        `images[${i}] must be a data:image/…;base64 URL or an http(s) URL (local paths: read the file and send it as a data URL)`,
        { field: `images[${i}]` },
      );
    }
  });
  return images;
}
