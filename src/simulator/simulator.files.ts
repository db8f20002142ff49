import type { ServerResponse } from 'node:http';
import { SIM_ERRORS } from './simulator.errors';
import { writeJson } from './simulator.exchange';
import type { SimProvider } from './simulator.types';

/** A file held by the simulated Files API. */
export interface SimFile {
  id: string;
  filename: string;
  purpose: string;
  bytes: Buffer;
  createdAt: number;
}

export interface SimFileLimits {
  /** Files one account may hold (Moonshot: 1000). */
  maxFiles: number;
  /** Bytes one file may have (Moonshot: 100 MB). */
  maxFileBytes: number;
  /** Bytes all of an account's files may have together. */
  maxTotalBytes: number;
}

export const SIM_FILE_LIMITS: Readonly<SimFileLimits> = {
  maxFiles: 1000,
  maxFileBytes: 100 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
};

const PURPOSES: Record<SimProvider, ReadonlySet<string>> = {
  kimi: new Set(['file-extract', 'image', 'video', 'batch']),
  glm: new Set(['agent', 'file-extract', 'batch', 'code-interpreter']),
};

/**
 * Each provider's uploaded files, in memory and bounded like a real account:
 * count, per-file and total bytes. Upload order is kept so lists are stable.
 */
export class SimFileStore {
  private readonly files: Record<SimProvider, Map<string, SimFile>> = { glm: new Map(), kimi: new Map() };

  constructor(private readonly limits: SimFileLimits = SIM_FILE_LIMITS) {}

  /** @throws SimHttpError for a bad purpose, an empty or oversized file, or a full account. */
  add(provider: SimProvider, file: SimFile): SimFile {
    const errors = SIM_ERRORS[provider];
    if (!PURPOSES[provider].has(file.purpose)) {
      throw errors.invalid(`purpose must be one of ${[...PURPOSES[provider]].join(', ')}`);
    }
    if (file.bytes.length === 0) throw errors.invalid('the file is empty');
    if (file.bytes.length > this.limits.maxFileBytes) {
      throw errors.invalid(`file size exceeds the limit of ${this.limits.maxFileBytes} bytes`);
    }
    const held = this.files[provider];
    if (held.size >= this.limits.maxFiles) {
      throw errors.invalid(`too many files: at most ${this.limits.maxFiles}; delete some first`);
    }
    const total = [...held.values()].reduce((n, f) => n + f.bytes.length, 0);
    if (total + file.bytes.length > this.limits.maxTotalBytes) {
      throw errors.invalid(`total file size would exceed ${this.limits.maxTotalBytes} bytes; delete some first`);
    }
    held.set(file.id, file);
    return file;
  }

  list(provider: SimProvider): SimFile[] {
    return [...this.files[provider].values()];
  }

  /** @throws SimHttpError 404 when there is no such file. */
  get(provider: SimProvider, id: string): SimFile {
    const file = this.files[provider].get(id);
    if (!file) throw SIM_ERRORS[provider].fileNotFound(id);
    return file;
  }

  /** @throws SimHttpError 404 when there is no such file. */
  delete(provider: SimProvider, id: string): void {
    this.get(provider, id);
    this.files[provider].delete(id);
  }

  clear(): void {
    this.files.glm.clear();
    this.files.kimi.clear();
  }
}

/** The file object both APIs return (Moonshot adds status fields). */
export function fileObject(provider: SimProvider, f: SimFile): Record<string, unknown> {
  const base = {
    id: f.id,
    object: 'file',
    bytes: f.bytes.length,
    created_at: Math.floor(f.createdAt / 1000),
    filename: f.filename,
    purpose: f.purpose,
  };
  return provider === 'kimi' ? { ...base, status: 'ok', status_details: '' } : base;
}

export interface MultipartForm {
  fields: Record<string, string>;
  file?: { filename: string; bytes: Buffer };
}

/**
 * A multipart/form-data body: text fields and the part named `file`.
 * @returns undefined when the content type is not multipart or the body is malformed.
 */
export function parseMultipart(contentType: string | undefined, body: Buffer): MultipartForm | undefined {
  const m = /^multipart\/form-data;.*\bboundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!m) return undefined;
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const form: MultipartForm = { fields: {} };
  let pos = body.indexOf(delimiter);
  if (pos < 0) return undefined;
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString() === '--') return form;
    pos += 2; // CRLF after the delimiter
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) return undefined;
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(delimiter, headerEnd + 4);
    if (next < 0) return undefined;
    const content = body.subarray(headerEnd + 4, next - 2); // minus the CRLF before the delimiter
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
    if (name === 'file' && filename !== undefined) form.file = { filename, bytes: Buffer.from(content) };
    else if (name !== undefined) form.fields[name] = content.toString('utf8');
    pos = next;
  }
}

/** `/files`, `/files/{id}` or `/files/{id}/content`, with the methods each takes. */
export function filesRoute(rel: string): { id?: string; content: boolean; methods: string[] } | undefined {
  if (rel === '/files') return { content: false, methods: ['GET', 'POST'] };
  const m = /^\/files\/([^/]+)(\/content)?$/.exec(rel);
  if (!m) return undefined;
  const id = decodeURIComponent(m[1]);
  return m[2] ? { id, content: true, methods: ['GET'] } : { id, content: false, methods: ['GET', 'DELETE'] };
}

/** One authenticated Files API request, already matched by `filesRoute`. */
export interface FilesRequest {
  provider: SimProvider;
  method: string;
  id?: string;
  content: boolean;
  form?: MultipartForm;
}

/**
 * The Files API in each provider's shape: upload, list, retrieve, delete, content.
 * @throws SimHttpError in the provider's shape for a bad upload or an unknown file.
 */
export function serveFiles(
  store: SimFileStore,
  { provider, method, id, content, form }: FilesRequest,
  mint: { newId: () => string; clock: () => number },
  jsonType: string,
  res: ServerResponse,
): void {
  const errors = SIM_ERRORS[provider];
  if (id === undefined && method === 'POST') {
    if (!form) throw errors.invalid('the upload must be multipart/form-data');
    if (!form.file) throw errors.missing('file');
    if (!form.fields.purpose) throw errors.missing('purpose');
    const file = store.add(provider, {
      id: mint.newId(),
      filename: form.file.filename,
      purpose: form.fields.purpose,
      bytes: form.file.bytes,
      createdAt: mint.clock(),
    });
    return writeJson(res, 200, fileObject(provider, file), jsonType);
  }
  if (id === undefined) {
    const data = store.list(provider).map((f) => fileObject(provider, f));
    const list = provider === 'glm' ? { object: 'list', data, has_more: false } : { object: 'list', data };
    return writeJson(res, 200, list, jsonType);
  }
  const file = store.get(provider, id);
  if (content) {
    if (provider === 'glm') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(file.bytes);
      return;
    }
    // Moonshot answers the extracted text wrapped in JSON.
    const extracted = {
      content: file.bytes.toString('utf8'),
      file_type: 'text/plain',
      filename: file.filename,
      title: '',
      type: 'file',
    };
    return writeJson(res, 200, extracted, jsonType);
  }
  if (method === 'DELETE') {
    store.delete(provider, id);
    return writeJson(res, 200, { id, object: 'file', deleted: true }, jsonType);
  }
  return writeJson(res, 200, fileObject(provider, file), jsonType);
}
