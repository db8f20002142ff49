import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { ProviderFilesService, UploadOutcome } from '../provider-files.service';
import type { ExaiToolHandler, ToolContext, ToolResult } from '../tool.types';

const UPLOAD_TIMEOUT_SECS = 180;

@ExaiTool({
  name: 'kimi_upload_files',
  description:
    "Uploads local files to Kimi's Files API (Moonshot extracts their text) and returns their file ids for kimi_chat_with_files. Files are read only under EXAI_FILE_ROOTS; an unchanged file uploaded before is not sent again.",
  inputSchema: {
    type: 'object',
    properties: {
      files: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', minLength: 1 },
        description: 'Absolute paths of the files to upload (under EXAI_FILE_ROOTS; at most EXAI_UPLOAD_MAX_FILES).',
      },
      purpose: {
        enum: ['file-extract', 'image', 'video', 'batch', 'assistants'],
        default: 'file-extract',
        description:
          'What Kimi does with them: file-extract (default; extract the text), image, video, or batch. The old "assistants" is taken as file-extract.',
      },
    },
    required: ['files'],
    additionalProperties: false,
  },
  provider: 'KIMI',
  timeoutSecs: UPLOAD_TIMEOUT_SECS,
  // An upload has an effect: never answered from the result cache or joined to another caller's.
  cacheable: false,
})
@Injectable()
export class KimiUploadFilesTool implements ExaiToolHandler {
  constructor(private readonly files: ProviderFilesService) {}

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const kimi = this.files.api('KIMI');
    const purpose = args.purpose === 'assistants' ? 'file-extract' : String(args.purpose);
    const checked = await this.files.checkLocal(args.files as string[], 'files');
    const uploads: UploadOutcome[] = [];
    for (const file of checked) uploads.push(await this.files.upload(kimi, file, purpose, ctx));
    return {
      content: JSON.stringify(uploads),
      contentType: 'json',
      metadata: {
        provider: 'KIMI',
        uploaded: uploads.filter((u) => !u.deduplicated).length,
        reused: uploads.filter((u) => u.deduplicated).length,
      },
    };
  }
}
