import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { TtlLru } from '../common/ttl-lru';
import { FileAccessService } from '../files/file-access.service';
import { LlmProviderRegistry } from '../providers/llm-provider-registry.service';
import { OpenAiCompatibleLlmProvider, ProviderFile } from '../providers/openai-compatible.provider';
import { ProviderUnavailableError } from '../providers/providers.errors';
import type { ToolContext } from './tool.types';
import { toolsConfig } from './tools.config';
import { InvalidArgumentsError } from './tools.errors';

/** How long an upload is remembered for dedupe: a provider may expire files, so not forever. */
const DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;

export interface UploadOutcome {
  filename: string;
  path: string;
  file_id: string;
  size_bytes: number;
  sha256: string;
  upload_timestamp: string;
  /** True when an identical upload (same provider, purpose and bytes) was reused instead of sent again. */
  deduplicated: boolean;
}

/**
 * What the upload tools share: the provider's Files API, local files read only
 * under EXAI_FILE_ROOTS (through FileAccessService), count and size caps, and a
 * bounded sha256 → file id cache so an unchanged file is not uploaded twice.
 */
@Injectable()
export class ProviderFilesService {
  private readonly uploaded: TtlLru<string, { fileId: string; at: string }>;

  constructor(
    @Inject(toolsConfig.KEY) private readonly config: ConfigType<typeof toolsConfig>,
    private readonly providers: LlmProviderRegistry,
    private readonly files: FileAccessService,
  ) {
    this.uploaded = new TtlLru(Math.max(1, config.uploadCacheEntries), DEDUPE_TTL_MS);
  }

  /** The provider's Files API. @throws ProviderUnavailableError when it is not configured. */
  api(id: 'GLM' | 'KIMI'): OpenAiCompatibleLlmProvider {
    const provider = this.providers.get(id);
    if (!(provider instanceof OpenAiCompatibleLlmProvider) || !provider.status().configured) {
      throw new ProviderUnavailableError(`${id} is not configured: its Files API needs its API key`, { provider: id });
    }
    return provider;
  }

  /**
   * Checks every path before anything is sent, so a bad path fails the call
   * with nothing uploaded.
   * @throws InvalidArgumentsError naming the first bad path or the cap it breaks.
   */
  async checkLocal(
    paths: readonly string[],
    field: string,
  ): Promise<Array<{ path: string; real: string; size: number }>> {
    if (paths.length > this.config.uploadMaxFiles) {
      throw new InvalidArgumentsError(
        `${field} names ${paths.length} files; at most ${this.config.uploadMaxFiles} (EXAI_UPLOAD_MAX_FILES) are uploaded per call`,
        { field, count: paths.length, max: this.config.uploadMaxFiles },
      );
    }
    const out: Array<{ path: string; real: string; size: number }> = [];
    for (const checked of await this.files.check(paths, field)) {
      if (!checked.exists || checked.directory) {
        throw new InvalidArgumentsError(
          `${field}: "${checked.requested}" ${checked.exists ? 'is a directory' : 'does not exist'}; name a file`,
          { field, path: checked.requested },
        );
      }
      const handle = await open(checked.real, 'r');
      try {
        const { size } = await handle.stat();
        if (size > this.config.uploadMaxFileBytes) {
          throw new InvalidArgumentsError(
            `${field}: "${checked.requested}" has ${size} bytes, over the ${this.config.uploadMaxFileBytes}-byte limit (EXAI_UPLOAD_MAX_FILE_MB)`,
            { field, path: checked.requested, size, max: this.config.uploadMaxFileBytes },
          );
        }
        out.push({ path: checked.requested, real: checked.real, size });
      } finally {
        await handle.close();
      }
    }
    return out;
  }

  /** Uploads one checked file, or reuses the id of an identical earlier upload. */
  async upload(
    provider: OpenAiCompatibleLlmProvider,
    file: { path: string; real: string; size: number },
    purpose: string,
    ctx: ToolContext,
  ): Promise<UploadOutcome> {
    const bytes = await readChecked(file.real, file.size, file.path);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = `${provider.id}\u0000${purpose}\u0000${sha256}`;
    const filename = basename(file.path);
    const call = { signal: ctx.signal, deadline: ctx.deadline };
    const cached = this.config.uploadCacheEntries > 0 ? this.uploaded.get(key) : undefined;
    // The provider may have dropped the file since (deleted elsewhere, expired): only a file it still has is reused.
    const known = cached && (await provider.retrieveFile(cached.fileId, call)) ? cached : undefined;
    if (known) {
      return {
        filename,
        path: file.path,
        file_id: known.fileId,
        size_bytes: bytes.length,
        sha256,
        upload_timestamp: known.at,
        deduplicated: true,
      };
    }
    ctx.progress(`uploading ${filename} (${bytes.length} bytes) to ${provider.id}`);
    const uploaded: ProviderFile = await provider.uploadFile({ filename, bytes, purpose }, call);
    const at = new Date((uploaded.createdAt || Date.now() / 1000) * 1000).toISOString();
    if (this.config.uploadCacheEntries > 0) this.uploaded.set(key, { fileId: uploaded.id, at });
    return {
      filename,
      path: file.path,
      file_id: uploaded.id,
      size_bytes: bytes.length,
      sha256,
      upload_timestamp: at,
      deduplicated: false,
    };
  }

  /** Forgets dedupe entries that point at a deleted file. */
  forget(provider: string, fileIds: ReadonlySet<string>): void {
    this.uploaded.deleteWhere((key, v) => key.startsWith(`${provider}\u0000`) && fileIds.has(v.fileId));
  }
}

/** Reads a checked file, refusing it if it changed size since the check (the cap was applied to that size). */
async function readChecked(real: string, size: number, shown: string): Promise<Buffer> {
  const handle = await open(real, 'r');
  try {
    const buffer = Buffer.alloc(size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > size) break;
    }
    if (length !== size) {
      throw new InvalidArgumentsError(`"${shown}" changed while it was being uploaded; try again`, { path: shown });
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
