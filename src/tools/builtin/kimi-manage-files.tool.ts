import { Injectable } from '@nestjs/common';
import type { ProviderFile } from '../../providers/openai-compatible.provider';
import { ExaiTool } from '../exai-tool.decorator';
import { ProviderFilesService } from '../provider-files.service';
import type { ExaiToolHandler, PreparedCall, ToolContext, ToolResult } from '../tool.types';
import { InvalidArgumentsError } from '../tools.errors';

const DAY_SECS = 24 * 60 * 60;

@ExaiTool({
  name: 'kimi_manage_files',
  description:
    "Lists or deletes the files in the Kimi account. cleanup_all and cleanup_expired delete many files at once and need confirm: true (or dry_run: true to see what they would delete). cleanup_orphaned needed the old daemon's Supabase table and is not available.",
  inputSchema: {
    type: 'object',
    properties: {
      operation: {
        enum: ['list', 'delete', 'cleanup_all', 'cleanup_expired', 'cleanup_orphaned'],
        description:
          'list; delete (one file_id); cleanup_all (every file, up to limit); cleanup_expired (files older than older_than_days, up to limit); cleanup_orphaned (refused: see the description).',
      },
      file_id: { type: 'string', minLength: 1, description: 'The file to delete (operation delete).' },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        default: 100,
        description: 'Most files listed or deleted by one call (1–1000).',
      },
      older_than_days: {
        type: 'integer',
        minimum: 1,
        default: 30,
        description: 'cleanup_expired deletes files uploaded more than this many days ago.',
      },
      dry_run: {
        type: 'boolean',
        default: false,
        description: 'Report what a cleanup would delete without deleting anything.',
      },
      confirm: {
        type: 'boolean',
        default: false,
        description: 'Must be true for cleanup_all and cleanup_expired to delete anything.',
      },
    },
    required: ['operation'],
    additionalProperties: false,
  },
  provider: 'KIMI',
  timeoutSecs: 300,
  cacheable: false,
})
@Injectable()
export class KimiManageFilesTool implements ExaiToolHandler {
  constructor(private readonly files: ProviderFilesService) {}

  /** Refusals that need no provider call happen before admission. */
  prepare(args: Record<string, unknown>): PreparedCall {
    const op = String(args.operation);
    if (op === 'cleanup_orphaned') {
      throw new InvalidArgumentsError(
        "cleanup_orphaned deleted files missing from the old daemon's Supabase table; this gateway keeps no such table (no Supabase). Use cleanup_expired or delete.",
        { operation: op },
      );
    }
    if (op === 'delete' && typeof args.file_id !== 'string') {
      throw new InvalidArgumentsError('delete needs file_id', { operation: op });
    }
    if ((op === 'cleanup_all' || op === 'cleanup_expired') && args.confirm !== true && args.dry_run !== true) {
      throw new InvalidArgumentsError(
        `${op} deletes files and needs confirm: true (or dry_run: true to see what it would delete)`,
        { operation: op },
      );
    }
    return { args, provider: 'KIMI' };
  }

  async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const kimi = this.files.api('KIMI');
    const call = { signal: ctx.signal, deadline: ctx.deadline };
    const op = String(args.operation);
    const limit = Number(args.limit ?? 100);
    let out: Record<string, unknown>;
    if (op === 'list') {
      const files = (await kimi.listFiles(call)).slice(0, limit).map(wire);
      out = { operation: op, count: files.length, files };
    } else if (op === 'delete') {
      const id = String(args.file_id);
      const deleted = await kimi.deleteFile(id, call);
      this.files.forget('KIMI', new Set([id]));
      out = { operation: op, file_id: id, deleted };
    } else {
      const cutoff = Date.now() / 1000 - Number(args.older_than_days ?? 30) * DAY_SECS;
      const targets = (await kimi.listFiles(call))
        .filter((f) => op === 'cleanup_all' || f.createdAt < cutoff)
        .slice(0, limit);
      if (args.dry_run === true) {
        out = { operation: op, dry_run: true, would_delete: targets.map(wire), count: targets.length };
      } else {
        const deleted: string[] = [];
        const failed: Array<{ file_id: string; error: string }> = [];
        for (const f of targets) {
          ctx.progress(`deleting ${f.id} (${deleted.length + failed.length + 1}/${targets.length})`);
          try {
            if (await kimi.deleteFile(f.id, call)) deleted.push(f.id);
            else failed.push({ file_id: f.id, error: 'not deleted' });
          } catch (err) {
            if (ctx.signal.aborted) throw err;
            failed.push({ file_id: f.id, error: (err as Error).message });
          }
        }
        this.files.forget('KIMI', new Set(deleted));
        out = { operation: op, deleted_count: deleted.length, deleted, failed };
      }
    }
    return { content: JSON.stringify(out), contentType: 'json', metadata: { provider: 'KIMI' } };
  }
}

function wire(f: ProviderFile): Record<string, unknown> {
  return { id: f.id, filename: f.filename, bytes: f.bytes, created_at: f.createdAt, purpose: f.purpose };
}
