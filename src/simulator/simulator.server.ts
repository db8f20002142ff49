import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimDirectives } from './simulator.directives';
import {
  htmlGatewayError,
  SIM_ERRORS,
  SimHttpError,
  SimulatorConfigError,
  SimulatorStateError,
  unknownRoute,
} from './simulator.errors';
import { readBody, SimExchange, writeError, writeJson } from './simulator.exchange';
import { filesRoute, parseMultipart, serveFiles, SIM_FILE_LIMITS, SimFileStore } from './simulator.files';
import { SimRateLimiter } from './simulator.limits';
import { SIM_CAPACITY_PATH, SimCapacity } from './simulator.capacity';
import { SIM_MODEL_CREATED, SIM_MODEL_OWNERS, SIM_MODELS } from './simulator.models';
import { filteredBeforeAnswer, SimChatPlanner } from './simulator.planning';
import { glmSearchResults, ResponseDialect, responseDialects } from './simulator.responses';
import { sendCompletion, streamCompletion, stretched } from './simulator.streaming';
import { SimIdGenerator } from './simulator.text';
import type {
  RecordedRequest,
  ScriptedResponse,
  SimLatency,
  SimModelInfo,
  SimProvider,
  SimulatorOptions,
} from './simulator.types';
import { isRecord, validateChat } from './simulator.validation';

export type {
  RecordedRequest,
  ScriptedResponse,
  ScriptedToolCall,
  SimLatency,
  SimModelInfo,
  SimProvider,
  SimulatorOptions,
} from './simulator.types';

export const SIM_DEFAULT_KEYS: Readonly<Record<SimProvider, readonly string[]>> = {
  glm: ['sim-glm-key'],
  kimi: ['sim-kimi-key'],
};

/** docs/providers.md §6 "Latency", before the speed factor. */
export const SIM_DEFAULT_LATENCY: Readonly<SimLatency> = {
  ttftMs: 400,
  interTokenMs: 30,
  thinkingMs: 2000,
  webSearchMs: 1500,
};

type Endpoint = 'chat' | 'models' | 'web_search';

const ENDPOINTS: Record<string, { endpoint: Endpoint; method: string; providers: SimProvider[] }> = {
  '/chat/completions': { endpoint: 'chat', method: 'POST', providers: ['glm', 'kimi'] },
  '/models': { endpoint: 'models', method: 'GET', providers: ['glm', 'kimi'] },
  '/web_search': { endpoint: 'web_search', method: 'POST', providers: ['glm'] },
};

const BASE_PATHS: Record<SimProvider, string> = { glm: '/api/paas/v4', kimi: '/v1' };

const PREFIXES: Array<[string, SimProvider]> = [
  ['/api/coding/paas/v4', 'glm'],
  ['/api/paas/v4', 'glm'],
  ['/v1', 'kimi'],
];

/** Above the providers' 100 MB file limit plus multipart framing; bigger bodies are refused unread. */
const MAX_BODY_BYTES = 101 * 1024 * 1024;
const BODY_NOT_JSON = Symbol('body-not-json');

/**
 * A loopback HTTP server that speaks the GLM (Z.ai) and Kimi (Moonshot) chat
 * APIs as docs/providers.md §6 specifies, for tests and for running the daemon
 * without keys. Behaviour is scripted in-process (`script()`) or by
 * `[[sim:…]]` directives in the last user message.
 */
export class ProviderSimulator {
  readonly requests: RecordedRequest[] = [];

  private server?: Server;
  private listening?: { host: string; port: number };
  private stopping = false;
  private readonly keys: Record<SimProvider, ReadonlySet<string>>;
  private readonly latency: SimLatency;
  private readonly clock: () => number;
  private readonly dialects: Record<SimProvider, ResponseDialect>;
  private readonly limiter: SimRateLimiter;
  /** Account-wide concurrent capacity per provider, changeable while running (simulator.capacity.ts). */
  readonly capacity: SimCapacity;
  private readonly ids = new SimIdGenerator();
  private readonly planner: SimChatPlanner;
  /** Files uploaded to each provider's Files API. */
  readonly files: SimFileStore;
  private open = 0;
  private aborted = 0;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.keys = {
      glm: new Set(options.keys?.glm ?? SIM_DEFAULT_KEYS.glm),
      kimi: new Set(options.keys?.kimi ?? SIM_DEFAULT_KEYS.kimi),
    };
    const speed = options.speed ?? 1;
    if (!Number.isFinite(speed) || speed < 0) throw new SimulatorConfigError(`speed must be >= 0, got ${speed}`);
    const base = { ...SIM_DEFAULT_LATENCY, ...options.latency };
    this.latency = {
      ttftMs: base.ttftMs * speed,
      interTokenMs: base.interTokenMs * speed,
      thinkingMs: base.thinkingMs * speed,
      webSearchMs: base.webSearchMs * speed,
    };
    this.clock = options.clock ?? Date.now;
    this.dialects = responseDialects({
      streamUsage: options.kimiStreamUsage ?? 'choice',
      cachedTokens: options.kimiCachedTokens ?? 'usage',
    });
    this.limiter = new SimRateLimiter(options.limits ?? {}, this.clock);
    this.capacity = new SimCapacity(options.capacity);
    this.files = new SimFileStore({ ...SIM_FILE_LIMITS, ...options.fileLimits });
    this.planner = new SimChatPlanner(this.ids, this.clock);
  }

  /** Listens on `host:port` (default an ephemeral loopback port). */
  async start(port = 0, host = '127.0.0.1'): Promise<void> {
    if (this.server) throw new SimulatorStateError('simulator already started');
    const server = createServer((req, res) => this.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listening = { host, port: (server.address() as AddressInfo).port };
  }

  /** Closes the server and destroys every open socket, stalled ones included, so it never hangs. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.listening = undefined;
    this.stopping = true;
    try {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    } finally {
      this.stopping = false;
    }
  }

  get url(): string {
    if (!this.listening) throw new SimulatorStateError('simulator not started');
    const { host, port } = this.listening;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  get glmBaseUrl(): string {
    return this.baseUrlOf('glm');
  }

  get kimiBaseUrl(): string {
    return this.baseUrlOf('kimi');
  }

  /** The base URL a client of `provider`'s API is configured with. */
  baseUrlOf(provider: SimProvider): string {
    return `${this.url}${BASE_PATHS[provider]}`;
  }

  /** Chat requests currently being served (response not finished, socket open). */
  get openRequests(): number {
    return this.open;
  }

  /** Chat requests whose client closed the socket before the response finished. */
  get abortedRequests(): number {
    return this.aborted;
  }

  /** Kimi responses with `finish_reason:"tool_calls"` and a `$web_search` call: what Kimi bills (docs/providers.md §3.4). */
  get billedSearches(): number {
    return this.planner.billedSearches;
  }

  /** Queues responses for a provider; each is consumed by the next chat request (for its `model`, if set). */
  script(provider: SimProvider, ...responses: ScriptedResponse[]): void {
    this.planner.script(provider, responses);
  }

  /** Forgets requests, scripts, counters, attempt counters, issued searches, files and rate-limit windows. */
  reset(): void {
    this.requests.length = 0;
    this.planner.reset();
    this.files.clear();
    this.limiter.reset();
    this.ids.reset();
    this.aborted = 0;
  }

  models(provider: SimProvider): SimModelInfo[] {
    return SIM_MODELS[provider].map(({ id, contextWindow, thinking, defaultTemperature }) => ({
      id,
      contextWindow,
      thinking,
      defaultTemperature,
    }));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      if (err instanceof SimHttpError) {
        writeError(res, err);
      } else if (!res.headersSent && !res.destroyed) {
        writeJson(res, 500, { error: { message: `simulator failure: ${String(err)}` } }, 'application/json');
      } else {
        res.destroy();
      }
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0].replace(/(.)\/+$/, '$1');
    if (path === SIM_CAPACITY_PATH) {
      const admin = parseJson((await readBody(req, MAX_BODY_BYTES))?.toString('utf8') ?? '');
      return this.capacity.serveAdmin(method, admin === BODY_NOT_JSON ? null : admin, res);
    }
    const prefix = PREFIXES.find(([p]) => path === p || path.startsWith(`${p}/`));
    if (!prefix) {
      req.resume();
      throw unknownRoute();
    }
    const [prefixPath, provider] = prefix;
    const errors = SIM_ERRORS[provider];
    const route = ENDPOINTS[path.slice(prefixPath.length)];
    const known = route?.providers.includes(provider) ? route : undefined;
    const isChat = known?.endpoint === 'chat' && method === known.method;
    const exchange = isChat ? this.track(res) : undefined;

    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === undefined) throw errors.invalid('request body too large');
    const multipart = parseMultipart(req.headers['content-type'], raw);
    const text = multipart ? '' : raw.toString('utf8');
    const body = multipart ? { fields: multipart.fields, file: multipart.file?.filename } : parseJson(text);
    this.requests.push({
      provider,
      method,
      path,
      headers: { ...req.headers },
      body: body === BODY_NOT_JSON ? text : body,
      at: this.clock(),
    });

    const files = filesRoute(path.slice(prefixPath.length));
    if (!known && !files) throw errors.notFound(path);
    const allowed = files ? files.methods : [known!.method];
    if (!allowed.includes(method)) throw errors.methodNotAllowed(method).withHeaders({ Allow: allowed.join(', ') });
    const apiKey = bearer(req.headers.authorization);
    if (apiKey === undefined) throw errors.unauthorized('missing');
    if (!this.keys[provider].has(apiKey)) throw errors.unauthorized('invalid');
    if (files) {
      const request = { provider, method, id: files.id, content: files.content, form: multipart };
      const newId = () => (provider === 'glm' ? `file-${this.ids.hex(24)}` : this.ids.hex(20));
      return serveFiles(
        this.files,
        request,
        { newId, clock: this.clock },
        this.dialects[provider].jsonContentType,
        res,
      );
    }
    if (!known) throw errors.notFound(path);

    switch (known.endpoint) {
      case 'models':
        return this.serveModels(provider, res);
      case 'web_search':
        return this.serveGlmWebSearch(res, body);
      case 'chat':
        if (!exchange) throw new SimulatorStateError('chat request without an exchange');
        return this.serveChat(provider, exchange, apiKey, body);
    }
  }

  private track(res: ServerResponse): SimExchange {
    this.open += 1;
    return new SimExchange(res, (clientAborted) => {
      this.open -= 1;
      if (clientAborted && !this.stopping) this.aborted += 1;
    });
  }

  private serveModels(provider: SimProvider, res: ServerResponse): void {
    const data = SIM_MODELS[provider].map((m) => ({
      id: m.id,
      object: 'model',
      created: SIM_MODEL_CREATED,
      owned_by: SIM_MODEL_OWNERS[provider],
    }));
    writeJson(res, 200, { object: 'list', data }, this.dialects[provider].jsonContentType);
  }

  /** GLM's standalone search API (`POST /web_search`). */
  private async serveGlmWebSearch(res: ServerResponse, body: unknown): Promise<void> {
    const errors = SIM_ERRORS.glm;
    if (!isRecord(body)) throw errors.badJson();
    if (typeof body.search_query !== 'string' || body.search_query.trim() === '') throw errors.missing('search_query');
    const count = body.count ?? 10;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 50) {
      throw errors.outOfRange('count', 1, 50);
    }
    const query = body.search_query;
    const exchange = new SimExchange(res, () => {});
    if (!(await exchange.sleep(this.latency.webSearchMs))) return;
    const id = this.ids.glmId(this.clock());
    writeJson(
      res,
      200,
      {
        id,
        created: Math.floor(this.clock() / 1000),
        request_id: id,
        search_intent: [{ query, intent: 'SEARCH_ALL', keywords: query }],
        search_result: glmSearchResults(query, count),
      },
      this.dialects.glm.jsonContentType,
    );
  }

  private async serveChat(provider: SimProvider, ex: SimExchange, apiKey: string, body: unknown): Promise<void> {
    const errors = SIM_ERRORS[provider];
    if (body === BODY_NOT_JSON) throw errors.badJson();
    const slot = this.limiter.acquire(provider, apiKey);
    if (!slot.ok) {
      const err = errors.rateLimited(slot.kind, slot.limit, slot.retryAfterSec);
      throw this.options.rateLimitHeaders
        ? err.withHeaders(rateLimitHeaders(slot.retryAfterSec, slot.limit, 0, slot.resetSec))
        : err;
    }
    ex.onClose(slot.release);
    const seat = this.capacity.admit(provider);
    if (!seat.ok) throw seat.error;
    // Free once the last byte is handed over: the client may send its next
    // request before this socket's 'close' event runs.
    ex.res.once('finish', seat.release);
    ex.onClose(seat.release);

    const chat = validateChat(provider, body, {
      kimiStrictThinking: this.options.kimiStrictThinking ?? true,
      glmContextOverflow: this.options.glmContextOverflow ?? 'error',
      issuedSearch: (id) => this.planner.issuedSearch(id),
    });
    const d = this.planner.directives(provider, chat, (body as { messages: unknown }).messages);

    if (d.delayMs !== undefined && !(await ex.sleep(d.delayMs))) return;
    if (d.stall) return ex.untilClosed();
    if (d.html) throw htmlGatewayError();
    if (d.error !== undefined) throw this.injectedError(provider, d);
    if (filteredBeforeAnswer(provider, chat.stream, d)) throw errors.contentFilter();
    if (d.drop && !chat.stream) return ex.cut();
    if (d.stallAfter !== undefined && !chat.stream) {
      ex.startStream(200, { 'Content-Type': this.dialects[provider].jsonContentType });
      return ex.untilClosed();
    }

    const plan = this.planner.plan(provider, chat, d);
    const dialect = this.dialects[provider];
    if (plan.kind === 'error') throw plan.error;
    if (plan.kind === 'raw') {
      const type = chat.stream ? dialect.streamContentType : dialect.jsonContentType;
      return ex.sendBody(plan.status, plan.text, { 'Content-Type': type, ...plan.headers });
    }
    const delivery = { ex, dialect, latency: stretched(this.latency, seat.stretch), directives: d, plan };
    return chat.stream ? streamCompletion(delivery, chat.toolStream) : sendCompletion(delivery);
  }

  private injectedError(provider: SimProvider, d: SimDirectives): SimHttpError {
    const err = SIM_ERRORS[provider].injected(d.error ?? 500, d.retryAfter ?? 1);
    if (d.retryAfter !== undefined) return err.withHeaders({ 'Retry-After': String(d.retryAfter) });
    if (this.options.rateLimitHeaders && err.status === 429) {
      const limit = this.options.limits?.[provider]?.rpm ?? 3;
      return err.withHeaders(rateLimitHeaders(1, limit, 0, 1));
    }
    return err;
  }
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1] : undefined;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return BODY_NOT_JSON;
  }
}

function rateLimitHeaders(retryAfter: number, limit: number, remaining: number, reset: number): Record<string, string> {
  return {
    'Retry-After': String(retryAfter),
    'X-RateLimit-Limit': String(limit),
    'X-RateLimit-Remaining': String(remaining),
    'X-RateLimit-Reset': String(reset),
  };
}
