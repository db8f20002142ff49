import { Injectable } from '@nestjs/common';
import { ExaiTool } from '../exai-tool.decorator';
import { ProviderFilesService } from '../provider-files.service';
import type { ExaiToolHandler, ToolContext, ToolResult } from '../tool.types';

@ExaiTool({
  name: 'glm_upload_file',
  description:
    "Uploads one local file to GLM's Files API and returns its file id. The file is read only under EXAI_FILE_ROOTS; an unchanged file uploaded before is not sent again.",
  inputSchema: {
    type: 'object',
    properties: {
      file: {
        type: 'string',
        minLength: 1,
        description: 'Absolute path of the file to upload (under EXAI_FILE_ROOTS).',
      },
      purpose: {
        enum: ['agent', 'file-extract', 'batch', 'code-interpreter'],
        default: 'agent',
        description: 'What GLM uses the file for: agent (default), file-extract, batch or code-interpreter.',
      },
    },
    required: ['file'],
    additionalProperties: false,
  },
  provider: 'GLM',
  timeoutSecs: 120,
  // An upload has an effect: never answered from the result cache or joined to another caller's.
  cacheable: false,
})
@Injectable()
export class GlmUploadFileTool implements ExaiToolHandler {
  constructor(private readonly files: ProviderFilesService) {}

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const glm = this.files.api('GLM');
    const [file] = await this.files.checkLocal([String(args.file)], 'file');
    const upload = await this.files.upload(glm, file, String(args.purpose), ctx);
    return {
      content: JSON.stringify({
        file_id: upload.file_id,
        filename: upload.filename,
        size_bytes: upload.size_bytes,
        deduplicated: upload.deduplicated,
      }),
      contentType: 'json',
      metadata: { provider: 'GLM' },
    };
  }
}
