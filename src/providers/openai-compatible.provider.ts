import { forLog } from '../common/log-text';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { abortError, CallCancelledError } from '../common/call.errors';
import { MetricsService } from '../metrics/metrics.service';
import { CircuitBreaker } from './circuit-breaker';
import {
  LlmCallOptions,
  LlmCitation,
  LlmDelta,
  LlmMessage,
  LlmModelInfo,
  LlmProvider,
  LlmProviderStatus,
  LlmRequest,
  LlmResult,
  LlmToolCall,
  LlmUsage,
} from './llm-provider';
import { ModelCatalogue, ModelSpec } from './model-catalogue';
import { ProviderEndpoint, ProviderEndpoints } from './provider-endpoints';
import { redactProviderIds } from './provider-redaction';
import { ProviderUsage } from './provider-usage';
import { selectTimeoutSecs, TimeoutKind } from './provider-timeouts';
import { ProviderError, ProviderUnavailableError, UpstreamFailure } from './providers.errors';
import type { ProvidersConfig, ProviderSettings } from './providers.config';
import { decideRetry, retryAfterMs } from './retry-policy';
import { consumeSse } from './sse.parser';
import { header, HttpTransport, readText, TransportResponse } from './http-transport';

/** One upstream exchange as the API shapes it: everything the caller needs, nothing else. */
export interface Exchange {
  content: string;
  reasoning: string;
  toolCalls: LlmToolCall[];
  finishReason: string;
  usage: LlmUsage;
  citations: LlmCitation[];
  model: string;
  /** Epoch ms of the first streamed token (content, reasoning or tool call); unset for a non-streamed answer. */
  firstTokenAt?: number;
}

export interface ParsedError {
  code?: string;
  message: string;
  retryable: boolean;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Shared client for OpenAI-compatible chat APIs, on undici's pooled
 * dispatcher (see HttpTransport) and our own SSE parser rather than the
 * openai SDK: the SDK's retries and timeouts would fight our single deadline
 * budget, its types drop `reasoning_content`, GLM's top-level `web_search`
 * and Kimi's usage-in-choices, and this way an abort closes the upstream
 * socket directly and every chunk can be watched for an idle stall.
 */
export abstract class OpenAiCompatibleLlmProvider extends LlmProvider {
  /** How logs and messages name this provider (`Kimi` for id `KIMI`). */
  protected abstract readonly displayName: string;
  protected readonly logger: Logger;
  readonly breaker: CircuitBreaker;
  readonly usage = new ProviderUsage();
  private readonly transport: HttpTransport;
  private readonly modelCatalogue: ModelCatalogue;
  /** Set at module init, once `id` is known; undefined = not configured. */
  private endpoint?: ProviderEndpoint;
  /** Timeout selections already logged at info, by model and kind (bounded: see timeoutSecs). */
  private readonly loggedTimeouts = new Set<string>();
  /** The chat request's headers, streamed and not, for the endpoint they were made for: the same on every call. */
  private chatHeaders?: { endpoint: ProviderEndpoint; stream: Record<string, string>; json: Record<string, string> };
  /** The circuit state last put in the gauge: it is set again only when it changes. */
  private circuitGaugeValue?: number;

  protected constructor(
    protected readonly config: ProvidersConfig,
    protected readonly settings: ProviderSettings,
    private readonly endpoints: ProviderEndpoints,
    protected readonly metrics: MetricsService,
    loggerName: string,
    knownModels: readonly ModelSpec[],
  ) {
    super();
    this.logger = new Logger(loggerName);
    this.breaker = new CircuitBreaker(config.circuitFailureThreshold, config.circuitCooldownMs);
    this.transport = new HttpTransport(config.proxy);
    this.modelCatalogue = new ModelCatalogue(knownModels, settings.models, (id) => this.thinksByName(id));
  }

  /** Provider-specific request body. */
  protected abstract buildBody(request: LlmRequest, stream: boolean): Record<string, unknown>;

  override requestBody(request: LlmRequest): Record<string, unknown> {
    return this.withCallerFields(this.buildBody(request, this.streams(request)), request);
  }

  /** The messages as the wire wants them: a user message with images becomes text + image_url parts. */
  protected wireMessages(messages: LlmMessage[]): Array<Record<string, unknown>> {
    return messages.map(({ images, ...m }) =>
      images && images.length > 0
        ? {
            ...m,
            content: [
              { type: 'text', text: m.content },
              ...images.map((url) => ({ type: 'image_url', image_url: { url } })),
            ],
          }
        : { ...m },
    );
  }

  /** The provider's search tool, and tool_choice `auto` whenever tools are sent (the caller's choice overrides it). */
  protected toolFields(request: LlmRequest, searchTool: Record<string, unknown> | undefined): Record<string, unknown> {
    // The caller's own tools and tool_choice are added after this by withCallerFields.
    const hasTools = searchTool !== undefined || (request.tools?.length ?? 0) > 0;
    return { ...(searchTool ? { tools: [searchTool] } : {}), ...(hasTools ? { tool_choice: 'auto' } : {}) };
  }

  /** Provider-specific error envelope and retry classification. */
  protected abstract parseError(status: number, body: unknown, text: string): ParsedError;

  /** Whether this request must be sent without streaming (Kimi's `$web_search` loop). */
  protected streams(request: LlmRequest): boolean {
    void request;
    return true;
  }

  /** Runs the provider's conversation loop; the default is a single exchange. */
  protected run(
    request: LlmRequest,
    send: (req: LlmRequest) => Promise<Exchange>,
  ): Promise<Exchange & { searches?: number }> {
    return send(request);
  }

  onModuleInit(): void {
    this.endpoint = this.endpoints.endpointFor(this.id, this.settings);
  }

  onModuleDestroy(): void {
    this.transport.destroy();
  }

  models(): Promise<LlmModelInfo[]> {
    return Promise.resolve(this.catalogue());
  }

  override catalogue(): ModelSpec[] {
    return this.modelCatalogue.list().map((m) => ({ ...m, aliases: [...m.aliases] }));
  }

  modelIds(): string[] {
    return this.modelCatalogue.ids();
  }

  override resolveModel(name: string): ModelSpec | undefined {
    return this.modelCatalogue.resolve(name);
  }

  /** Whether `model` thinks: the catalogue's word, else a guess from the name for models it does not know. */
  supportsThinking(model: string): boolean {
    return this.modelCatalogue.resolve(model)?.thinking ?? this.thinksByName(model);
  }

  protected thinksByName(model: string): boolean {
    return model.toLowerCase().includes('thinking');
  }

  isAvailable(): boolean {
    return this.endpoint !== undefined && this.breaker.state !== 'open';
  }

  /**
   * The budget for a call of this kind. Each distinct selection (model, web,
   * thinking) is logged at info the first time, and not again: the same line
   * on every call cost a synchronous log write per call (6% of the daemon's
   * CPU in the streamed-chat bench profile), and even a repeat sent at debug
   * and dropped by the level cost about 10 µs through Nest's logger; the
   * call's ack carries its timeout anyway.
   */
  timeoutSecs(model: string, kind: TimeoutKind): number {
    const secs = selectTimeoutSecs(this.settings.timeouts, kind);
    const selection = `${kind.web ? 'w' : '-'}${kind.thinking ? 't' : '-'}${model}`;
    if (this.loggedTimeouts.has(selection)) return secs;
    // Models come from the catalogue, so this stays small; the cap is for models passed through unchecked.
    if (this.loggedTimeouts.size >= MAX_LOGGED_TIMEOUTS) this.loggedTimeouts.clear();
    this.loggedTimeouts.add(selection);
    this.logger.log(`${this.displayName} timeout: ${secs}s (web=${kind.web}, thinking=${kind.thinking}) for ${model}`);
    return secs;
  }

  status(): LlmProviderStatus {
    const endpoint = this.endpoint;
    return {
      id: this.id,
      mode: endpoint?.mode ?? 'unconfigured',
      configured: endpoint !== undefined,
      circuit: this.breaker.state,
      lastError: this.breaker.lastError,
      usage: this.usage.snapshot(),
    };
  }

  async complete(request: LlmRequest, options: LlmCallOptions): Promise<LlmResult> {
    const endpoint = this.endpoint;
    if (!endpoint) {
      throw new ProviderUnavailableError(`${this.displayName} is not configured`, { provider: this.id });
    }
    if (!this.breaker.tryPass()) {
      throw new ProviderUnavailableError(`${this.displayName} circuit is open after repeated failures`, {
        provider: this.id,
        retryAfterSecs: Math.max(1, Math.ceil(this.breaker.retryInMs() / 1000)),
      });
    }
    let attempts = 0;
    const callStarted = Date.now();
    // Output the caller has already received cannot be taken back, so a
    // failure after the first delta ends the call instead of retrying it.
    let delivered = false;
    const onDelta = options.onDelta;
    const attemptOptions: LlmCallOptions = onDelta
      ? {
          ...options,
          onDelta: (delta) => {
            delivered = true;
            onDelta(delta);
          },
        }
      : options;
    const send = async (req: LlmRequest): Promise<Exchange> => {
      for (let attempt = 0; ; attempt++) {
        attempts++;
        const started = Date.now();
        try {
          const exchange = await this.exchange(endpoint, req, attemptOptions);
          this.metrics.providerRequests.inc({ provider: this.id, outcome: 'success' });
          this.metrics.providerLatency.observe({ provider: this.id }, (Date.now() - started) / 1000);
          this.reportAttempt({
            provider: this.id,
            family: attemptFamily(req),
            startedAt: started,
            ok: true,
            firstTokenMs: exchange.firstTokenAt !== undefined ? exchange.firstTokenAt - started : undefined,
          });
          return exchange;
        } catch (err) {
          if (err instanceof UpstreamFailure && err.kind === 'http') {
            this.reportAttempt({
              provider: this.id,
              family: attemptFamily(req),
              startedAt: started,
              ok: false,
              status: err.details.status,
              providerCode: err.details.providerCode,
            });
          }
          const next = await this.afterFailure(err, attempt, options, delivered);
          if (next !== RETRY) throw next;
        }
      }
    };
    try {
      const out = await this.run(request, send);
      this.breaker.onSuccess();
      this.updateCircuitGauge();
      this.countTokens(request.model, out.usage);
      this.usage.record(Date.now() - callStarted, out.usage);
      return {
        content: out.content,
        reasoning: out.reasoning || undefined,
        model: out.model || request.model,
        usage: out.usage,
        finishReason: out.finishReason,
        toolCalls: out.toolCalls.length > 0 ? out.toolCalls : undefined,
        webSearch: request.webSearch ? { citations: out.citations, searches: out.searches ?? 0 } : undefined,
        attempts,
      };
    } catch (err) {
      this.updateCircuitGauge();
      // A caller who went away says nothing about the provider's health.
      if (!(err instanceof CallCancelledError)) this.usage.record(Date.now() - callStarted, undefined);
      throw err;
    }
  }

  /** Labelled by the requested model: a configured id, so the label set stays bounded. */
  private countTokens(model: string, usage: LlmUsage): void {
    this.countTokenKind(model, 'prompt', usage.promptTokens);
    this.countTokenKind(model, 'completion', usage.completionTokens);
    this.countTokenKind(model, 'cached', usage.cachedTokens);
    this.countTokenKind(model, 'reasoning', usage.reasoningTokens);
  }

  private countTokenKind(model: string, kind: string, n: number | undefined): void {
    if (n !== undefined && n > 0) this.metrics.tokens.inc({ provider: this.id, model, kind }, n);
  }

  /** The common request fields every OpenAI-compatible API takes, and the caller's pass-through extras. */
  private withCallerFields(body: Record<string, unknown>, request: LlmRequest): Record<string, unknown> {
    const allowed = this.passthroughFields();
    for (const [key, value] of Object.entries(request.extra ?? {})) {
      if (allowed.includes(key) && !(key in body)) body[key] = value;
    }
    if (request.tools && request.tools.length > 0) {
      body.tools = [...(Array.isArray(body.tools) ? (body.tools as unknown[]) : []), ...request.tools];
    }
    if (request.toolChoice !== undefined) body.tool_choice = request.toolChoice;
    if (request.stop !== undefined) body.stop = request.stop;
    if (request.topP !== undefined) body.top_p = request.topP;
    return body;
  }

  /**
   * A call to one of the provider's other APIs (files, search) under the same
   * deadline, circuit breaker, retry policy and error mapping as chat.
   * `retry: false` for requests that must not be sent twice (an upload).
   * @throws ProviderError, ProviderUnavailableError, or the call's own ending.
   */
  async apiRequest(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: { json: unknown } | { multipart: MultipartBody } | undefined,
    options: LlmCallOptions & { retry?: boolean; maxBytes?: number },
  ): Promise<{ status: number; text: string; truncated: boolean }> {
    const endpoint = this.endpoint;
    if (!endpoint) throw new ProviderUnavailableError(`${this.displayName} is not configured`, { provider: this.id });
    if (!this.breaker.tryPass()) {
      throw new ProviderUnavailableError(`${this.displayName} circuit is open after repeated failures`, {
        provider: this.id,
        retryAfterSecs: Math.max(1, Math.ceil(this.breaker.retryInMs() / 1000)),
      });
    }
    const { headers, payload } = encodeBody(body);
    const maxBytes = options.maxBytes ?? MAX_API_BODY;
    for (let attempt = 0; ; attempt++) {
      try {
        let response: TransportResponse;
        try {
          response = await this.transport.request(
            method,
            `${endpoint.baseUrl}${path}`,
            { authorization: `Bearer ${endpoint.apiKey}`, accept: 'application/json', ...headers },
            payload,
            options.signal,
          );
        } catch (err) {
          if (options.signal.aborted) throw err;
          throw new UpstreamFailure(`connection failed: ${describe(err)}`, 'network', true, { provider: this.id });
        }
        if (response.status < 200 || response.status >= 300) throw await this.httpFailure(response, endpoint);
        const text = await readText(response.body, maxBytes + 1);
        this.breaker.onSuccess();
        this.updateCircuitGauge();
        this.metrics.providerRequests.inc({ provider: this.id, outcome: 'success' });
        const truncated = Buffer.byteLength(text) > maxBytes;
        return { status: response.status, text: truncated ? text.slice(0, maxBytes) : text, truncated };
      } catch (err) {
        // A dropped connection may have delivered the request: an upload is not sent twice.
        const mayHaveTakenEffect = options.retry === false && err instanceof UpstreamFailure && err.kind === 'network';
        const next = await this.afterFailure(err, attempt, options, mayHaveTakenEffect);
        this.updateCircuitGauge();
        if (next !== RETRY) throw next;
      }
    }
  }

  /** Uploads one file to the provider's Files API. */
  async uploadFile(
    file: { filename: string; bytes: Buffer; purpose: string },
    options: LlmCallOptions,
  ): Promise<ProviderFile> {
    const res = await this.apiRequest(
      'POST',
      '/files',
      { multipart: { fields: { purpose: file.purpose }, file: { filename: file.filename, bytes: file.bytes } } },
      { ...options, retry: false },
    );
    return toProviderFile(parseJsonObject(res.text, this.id));
  }

  /** The files the account holds, newest first as the provider lists them. */
  async listFiles(options: LlmCallOptions): Promise<ProviderFile[]> {
    const res = await this.apiRequest('GET', '/files', undefined, options);
    const data = parseJsonObject(res.text, this.id).data;
    return Array.isArray(data) ? data.map((f) => toProviderFile(f as Record<string, unknown>)) : [];
  }

  /** The file's metadata, or undefined when the provider no longer has it. */
  async retrieveFile(id: string, options: LlmCallOptions): Promise<ProviderFile | undefined> {
    try {
      const res = await this.apiRequest('GET', `/files/${encodeURIComponent(id)}`, undefined, options);
      return toProviderFile(parseJsonObject(res.text, this.id));
    } catch (err) {
      if (err instanceof ProviderError && err.details.status === 404) return undefined;
      throw err;
    }
  }

  async deleteFile(id: string, options: LlmCallOptions): Promise<boolean> {
    const res = await this.apiRequest('DELETE', `/files/${encodeURIComponent(id)}`, undefined, options);
    return parseJsonObject(res.text, this.id).deleted === true;
  }

  /** A file's content as text (for Kimi, the text it extracted), at most `maxBytes`. */
  async fileContent(
    id: string,
    options: LlmCallOptions & { maxBytes: number },
  ): Promise<{ text: string; truncated: boolean }> {
    const res = await this.apiRequest('GET', `/files/${encodeURIComponent(id)}/content`, undefined, options);
    return { text: this.fileText(res.text), truncated: res.truncated };
  }

  /** The content endpoint's body as text; Kimi wraps the extracted text in JSON. */
  protected fileText(body: string): string {
    return body;
  }

  /**
   * Decides what a failed attempt means: RETRY (after waiting out the
   * backoff) or the error that ends the call.
   */
  private async afterFailure(
    err: unknown,
    attempt: number,
    options: LlmCallOptions,
    delivered: boolean,
  ): Promise<Error> {
    if (options.signal.aborted) return abortError(options.signal.reason);
    if (!(err instanceof UpstreamFailure)) {
      this.breaker.onOtherFailure(String(err));
      return err instanceof Error ? err : new Error(String(err));
    }
    this.metrics.providerRequests.inc({ provider: this.id, outcome: err.retryable ? 'retryable_error' : 'error' });
    if (!err.retryable) {
      this.breaker.onOtherFailure(err.message);
      this.logger.warn({
        msg: `${this.displayName} request failed`,
        status: err.details.status,
        code: err.details.providerCode,
        error: forLog(err.message),
      });
      return new ProviderError(`${this.displayName}: ${err.message}`, err.details, { cause: err });
    }
    this.breaker.onRetryableFailure(err.message);
    const remainingMs = options.deadline - Date.now();
    const decision = decideRetry({
      retryable: true,
      attempt,
      maxRetries: this.config.maxRetries,
      remainingMs,
      hintMs: err.retryAfterMs,
    });
    if (!decision.retry || this.breaker.state === 'open' || delivered) {
      this.logger.warn({
        msg: `${this.displayName} unavailable, not retrying`,
        attempt,
        remaining_ms: remainingMs,
        wait_ms: decision.waitMs,
        error: forLog(err.message),
      });
      return new ProviderUnavailableError(`${this.displayName} unavailable: ${err.message}`, {
        ...err.details,
        retryAfterSecs: Math.max(1, Math.ceil(decision.waitMs / 1000)),
      });
    }
    this.metrics.providerRetries.inc({ provider: this.id });
    this.logger.log({
      msg: `${this.displayName} retry ${attempt + 1}/${this.config.maxRetries} in ${decision.waitMs}ms`,
      error: forLog(err.message),
    });
    await sleep(decision.waitMs, options.signal);
    if (options.signal.aborted) return abortError(options.signal.reason);
    return RETRY;
  }

  private updateCircuitGauge(): void {
    const value = CIRCUIT_GAUGE[this.breaker.state];
    if (value === this.circuitGaugeValue) return;
    this.circuitGaugeValue = value;
    this.metrics.providerCircuit.set({ provider: this.id }, value);
  }

  /**
   * One HTTP request and its whole response, streamed or not. The call's own
   * signal goes to undici, so an abort closes the request at once. When the
   * attempt ends with the response not read to its end (an idle stall, a
   * failure, or a stream that sent `[DONE]` and has not closed yet), its body
   * is destroyed, which closes the socket if the response is incomplete.
   * This replaced an AbortController per attempt, aborted at its end: about
   * 8 µs a call for what a body read to the end never needs.
   */
  protected async exchange(
    endpoint: ProviderEndpoint,
    request: LlmRequest,
    options: LlmCallOptions,
  ): Promise<Exchange> {
    // A caller that takes the whole answer at once gets it the cheap way: one
    // JSON body instead of a stream of chunks to parse and re-assemble.
    const stream = this.streams(request) && options.stream !== false;
    let response: TransportResponse;
    try {
      response = await this.transport.post(
        `${endpoint.baseUrl}/chat/completions`,
        this.chatHeadersFor(endpoint, stream),
        JSON.stringify(this.withCallerFields(this.buildBody(request, stream), request)),
        options.signal,
      );
    } catch (err) {
      if (options.signal.aborted) throw err;
      throw new UpstreamFailure(
        `connection failed: ${describe(err)}`,
        'network',
        true,
        { provider: this.id },
        undefined,
        {
          cause: err,
        },
      );
    }
    try {
      if (response.status < 200 || response.status >= 300) throw await this.httpFailure(response, endpoint);
      const exchange = stream
        ? await this.readStream(response, options.onDelta)
        : this.fromJson(JSON.parse(await readText(response.body)) as unknown);
      this.checkFinish(exchange);
      return exchange;
    } catch (err) {
      if (options.signal.aborted || err instanceof UpstreamFailure) throw err;
      throw new UpstreamFailure(
        `response interrupted: ${describe(err)}`,
        'network',
        true,
        { provider: this.id, status: response.status },
        undefined,
        {
          cause: err,
        },
      );
    } finally {
      // A fixed reason: without one undici makes a stack-captured error per call.
      if (!response.body.complete) response.body.destroy(ATTEMPT_ENDED);
    }
  }

  private chatHeadersFor(endpoint: ProviderEndpoint, stream: boolean): Record<string, string> {
    let headers = this.chatHeaders;
    if (headers?.endpoint !== endpoint) {
      const common = { authorization: `Bearer ${endpoint.apiKey}`, 'content-type': 'application/json' };
      headers = this.chatHeaders = {
        endpoint,
        stream: { ...common, accept: 'text/event-stream' },
        json: { ...common, accept: 'application/json' },
      };
    }
    return stream ? headers.stream : headers.json;
  }

  /** GLM reports some failures as a 200 with a special finish_reason. */
  protected checkFinish(exchange: Exchange): void {
    void exchange;
  }

  protected async httpFailure(response: TransportResponse, endpoint: ProviderEndpoint): Promise<UpstreamFailure> {
    const text = await readText(response.body, MAX_ERROR_BODY).catch(() => '');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const parsed = this.parseError(response.status, body, text);
    const hint = retryAfterMs(header(response.headers, 'retry-after'), parsed.message);
    // The hint is read from the raw text; everything kept or shown is redacted.
    const message = redactProviderIds(parsed.message, [endpoint.apiKey]);
    return new UpstreamFailure(
      `HTTP ${response.status}${parsed.code ? ` ${parsed.code}` : ''}: ${message}`,
      'http',
      parsed.retryable,
      { provider: this.id, status: response.status, providerCode: parsed.code },
      hint,
    );
  }

  private async readStream(response: TransportResponse, onDelta?: (delta: LlmDelta) => void): Promise<Exchange> {
    const acc = emptyExchange();
    // Most answers carry no tool call: the map is made for the first one.
    let calls: Map<number, LlmToolCall> | undefined;
    let done = false;
    await consumeSse(response.body, this.config.streamIdleTimeoutMs, this.id, (events) => {
      for (const data of events) {
        if (data === '[DONE]') return (done = true);
        let chunk: ChatChunk;
        try {
          chunk = JSON.parse(data) as ChatChunk;
        } catch {
          throw new UpstreamFailure('malformed stream frame', 'protocol', true, {
            provider: this.id,
            status: response.status,
          });
        }
        acc.model = chunk.model ?? acc.model;
        if (Array.isArray(chunk.web_search)) acc.citations.push(...chunk.web_search.map(toCitation));
        if (chunk.usage) acc.usage = toUsage(chunk.usage);
        const choices = chunk.choices;
        if (!choices) continue;
        for (const choice of choices) {
          const delta = choice.delta;
          if (delta) {
            if (delta.content || delta.reasoning_content || delta.tool_calls?.length) acc.firstTokenAt ??= Date.now();
            if (typeof delta.content === 'string') acc.content += delta.content;
            if (typeof delta.reasoning_content === 'string') acc.reasoning += delta.reasoning_content;
            if (delta.tool_calls)
              for (const tc of delta.tool_calls) mergeToolCall((calls ??= new Map<number, LlmToolCall>()), tc);
            if (onDelta) forwardDelta(delta, onDelta);
          }
          if (choice.finish_reason) acc.finishReason = choice.finish_reason;
          if (choice.usage) acc.usage = toUsage(choice.usage);
        }
      }
      return false;
    });
    if (!done && !acc.finishReason) {
      throw new UpstreamFailure('stream ended before it finished', 'network', true, {
        provider: this.id,
        status: response.status,
      });
    }
    if (calls) acc.toolCalls = [...calls.values()];
    return acc;
  }

  protected fromJson(json: unknown): Exchange {
    const body = json as ChatCompletion;
    const acc = emptyExchange();
    const choice = body.choices?.[0];
    acc.model = body.model ?? '';
    acc.content = choice?.message?.content ?? '';
    acc.reasoning = choice?.message?.reasoning_content ?? '';
    acc.toolCalls = (choice?.message?.tool_calls ?? []).map((tc) => ({
      id: tc.id ?? '',
      type: tc.type ?? 'function',
      function: { name: tc.function?.name ?? '', arguments: argumentsText(tc.function?.arguments) },
    }));
    acc.finishReason = choice?.finish_reason ?? '';
    if (body.usage) acc.usage = toUsage(body.usage);
    if (Array.isArray(body.web_search)) acc.citations = body.web_search.map(toCitation);
    return acc;
  }

  /** The assistant message to append to history exactly as the API returned it. */
  protected assistantMessage(exchange: Exchange): LlmMessage {
    const msg: LlmMessage = { role: 'assistant', content: exchange.content };
    if (exchange.toolCalls.length > 0) msg.tool_calls = exchange.toolCalls;
    if (exchange.reasoning) msg.reasoning_content = exchange.reasoning;
    return msg;
  }
}

/** exai_provider_circuit_state's value for each breaker state. */
const CIRCUIT_GAUGE = { closed: 0, half_open: 1, open: 2 } as const;
/** Returned by afterFailure to mean "the wait is over, try again". */
const RETRY = new Error('retry');
/** Why an attempt's response body is destroyed once the attempt is over (the socket is kept when the response was complete). */
const ATTEMPT_ENDED = new Error('attempt ended');
const MAX_LOGGED_TIMEOUTS = 256;
const MAX_API_BODY = 4 * 1024 * 1024;

/** A multipart/form-data body: text fields and one file. */
export interface MultipartBody {
  fields: Record<string, string>;
  file: { filename: string; bytes: Buffer };
}

/** A file as the providers' Files APIs describe it. */
export interface ProviderFile {
  id: string;
  filename: string;
  bytes: number;
  createdAt: number;
  purpose: string;
  status?: string;
}

function encodeBody(body: { json: unknown } | { multipart: MultipartBody } | undefined): {
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
} {
  if (body === undefined) return { headers: {}, payload: undefined };
  if ('json' in body) return { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body.json) };
  const boundary = `exai-${randomUUID()}`;
  const quoted = (v: string) => v.replace(/["\r\n\\]/g, '_');
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(body.multipart.fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`),
    );
  }
  const { filename, bytes } = body.multipart.file;
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted(filename)}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: Buffer.concat(parts) };
}

function parseJsonObject(text: string, provider: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ProviderError(`${provider}: the response is not a JSON object`, { provider, status: 200 });
}

function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function toProviderFile(raw: Record<string, unknown>): ProviderFile {
  return {
    id: str(raw.id),
    filename: str(raw.filename),
    bytes: typeof raw.bytes === 'number' ? raw.bytes : 0,
    createdAt: typeof raw.created_at === 'number' ? raw.created_at : 0,
    purpose: str(raw.purpose),
    ...(typeof raw.status === 'string' ? { status: raw.status } : {}),
  };
}

interface RawUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  cached_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

interface RawToolCall {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: unknown };
}

interface RawSearchResult {
  title?: string;
  link?: string;
  refer?: string;
  content?: string;
  publish_date?: string;
}

interface ChatChunk {
  model?: string;
  usage?: RawUsage;
  web_search?: RawSearchResult[];
  choices?: Array<{
    delta?: { content?: string; reasoning_content?: string; tool_calls?: RawToolCall[] };
    finish_reason?: string | null;
    usage?: RawUsage;
  }>;
}

interface ChatCompletion {
  model?: string;
  usage?: RawUsage;
  web_search?: RawSearchResult[];
  choices?: Array<{
    message?: { content?: string; reasoning_content?: string; tool_calls?: RawToolCall[] };
    finish_reason?: string;
  }>;
}

function emptyExchange(): Exchange {
  return {
    content: '',
    reasoning: '',
    toolCalls: [],
    finishReason: '',
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    citations: [],
    model: '',
  };
}

function toUsage(u: RawUsage): LlmUsage {
  const prompt = u.prompt_tokens ?? 0;
  const completion = u.completion_tokens ?? 0;
  const cached = u.cached_tokens ?? u.prompt_tokens_details?.cached_tokens;
  const reasoning = u.completion_tokens_details?.reasoning_tokens;
  return {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: u.total_tokens ?? prompt + completion,
    ...(cached !== undefined ? { cachedTokens: cached } : {}),
    ...(reasoning !== undefined ? { reasoningTokens: reasoning } : {}),
  };
}

/** Only deltas that carry output: role-only and empty chunks are not worth a frame downstream. */
function forwardDelta(
  delta: { content?: string; reasoning_content?: string; tool_calls?: RawToolCall[] },
  onDelta: (delta: LlmDelta) => void,
): void {
  const out: LlmDelta = {};
  if (typeof delta.content === 'string' && delta.content !== '') out.content = delta.content;
  if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
    out.reasoning = delta.reasoning_content;
  }
  if (delta.tool_calls && delta.tool_calls.length > 0) out.toolCalls = delta.tool_calls;
  if (out.content !== undefined || out.reasoning !== undefined || out.toolCalls) onDelta(out);
}

function toCitation(r: RawSearchResult): LlmCitation {
  return { title: r.title, link: r.link, refer: r.refer, content: r.content, publishDate: r.publish_date };
}

/** GLM captures carry arguments as a JSON string, its docs as an object: accept both. */
function argumentsText(args: unknown): string {
  if (typeof args === 'string') return args;
  return args === undefined ? '' : JSON.stringify(args);
}

function mergeToolCall(calls: Map<number, LlmToolCall>, tc: RawToolCall): void {
  const index = tc.index ?? calls.size;
  const existing = calls.get(index);
  if (!existing) {
    calls.set(index, {
      id: tc.id ?? '',
      type: tc.type ?? 'function',
      function: { name: tc.function?.name ?? '', arguments: argumentsText(tc.function?.arguments) },
    });
    return;
  }
  if (tc.id) existing.id = tc.id;
  if (tc.function?.name) existing.function.name = tc.function.name;
  existing.function.arguments += argumentsText(tc.function?.arguments);
}

/** The latency family of a request: the same model can be far slower with search or thinking. */
function attemptFamily(req: LlmRequest): string {
  return `${req.model}${req.webSearch ? '+web' : ''}${req.thinking ? '+thinking' : ''}`;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
