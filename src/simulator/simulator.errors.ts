import type { SimErrorKind } from './simulator.directives';
import type { SimProvider } from './simulator.types';

/** A complete HTTP failure response: status, body (JSON unless `raw`), extra headers. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    readonly raw?: { text: string; contentType: string },
  ) {
    super(`simulated HTTP ${status}`);
    this.name = 'SimHttpError';
  }

  withHeaders(headers: Record<string, string>): SimHttpError {
    return new SimHttpError(this.status, this.body, { ...this.headers, ...headers }, this.raw);
  }
}

/** Misuse of the simulator API itself (e.g. reading `url` before `start()`). */
export class SimulatorStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorStateError';
  }
}

/** Invalid simulator options or environment (speed, port). */
export class SimulatorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorConfigError';
  }
}

export type RateLimitKind = 'concurrency' | 'rpm';

/** Every provider-faithful failure the simulator can answer with, per provider (docs/providers.md §2.6 / §3.6). */
export interface SimErrorDialect {
  notFound(path: string): SimHttpError;
  methodNotAllowed(method: string): SimHttpError;
  unauthorized(reason: 'missing' | 'invalid'): SimHttpError;
  badJson(): SimHttpError;
  missing(field: string): SimHttpError;
  invalid(detail: string): SimHttpError;
  outOfRange(field: string, min: number, max: number): SimHttpError;
  emptyMessage(index: number, role: string): SimHttpError;
  unknownModel(model: string): SimHttpError;
  promptTooLong(contextWindow: number, promptTokens: number): SimHttpError;
  exceededTokenLimit(contextWindow: number): SimHttpError;
  contentFilter(): SimHttpError;
  rateLimited(kind: RateLimitKind, limit: number, retryAfterSec: number): SimHttpError;
  injected(kind: SimErrorKind, retryAfterSec: number): SimHttpError;
  directive(detail: string): SimHttpError;
  fileNotFound(id: string): SimHttpError;
}

const glm = (status: number, code: string, message: string): SimHttpError =>
  new SimHttpError(status, { error: { code, message } });

const kimi = (status: number, type: string, message: string): SimHttpError =>
  new SimHttpError(status, { error: { message, type } });

// English texts from docs.z.ai (api.z.ai); the Chinese ones are the only captured wording (docs/providers.md §2.6).
const GLM_ERRORS: SimErrorDialect = {
  notFound: () => glm(404, '404', 'Not Found'),
  methodNotAllowed: (method) => glm(405, '405', `Request method '${method}' is not supported`),
  unauthorized: (reason) =>
    reason === 'missing'
      ? glm(401, '1001', 'Authentication parameter not received in Header, unable to authenticate')
      : glm(
          401,
          '1002',
          'Invalid Authentication Token, please confirm that the Authentication Token is passed correctly',
        ),
  badJson: () => glm(400, '1210', 'Incorrect API call parameters, please check the documentation'),
  missing: (field) =>
    field === 'prompt'
      ? glm(400, '1213', '未正常接收到prompt参数。')
      : glm(400, '1213', `The ${field} parameter was not received properly`),
  invalid: (detail) => glm(400, '1214', detail),
  outOfRange: (field, min, max) => glm(400, '1214', `${field}参数非法：限制数值范围[${min},${max}]`),
  emptyMessage: () => glm(400, '1213', '未正常接收到prompt参数。'),
  unknownModel: () => glm(400, '1211', 'Unknown Model, please check the model code'),
  promptTooLong: (contextWindow, promptTokens) =>
    glm(
      400,
      '1210',
      `Incorrect API call parameters: the input (${promptTokens} tokens) exceeds the model's maximum context length of ${contextWindow} tokens`,
    ),
  exceededTokenLimit: (contextWindow) =>
    glm(400, '1210', `Incorrect API call parameters: the request exceeds the model token limit of ${contextWindow}`),
  contentFilter: () =>
    glm(
      400,
      '1301',
      'System detected potentially unsafe or sensitive content in input or generation. Please avoid using prompts that may generate sensitive content. Thank you for your cooperation.',
    ),
  rateLimited: (kind) =>
    kind === 'concurrency'
      ? glm(
          429,
          '1302',
          'High concurrency usage of this API, please reduce concurrency or contact customer service to increase limits',
        )
      : glm(
          429,
          '1303',
          'High frequency usage of this API, please reduce frequency or contact customer service to increase limits',
        ),
  injected: (kind) => {
    switch (kind) {
      case 429:
        return GLM_ERRORS.rateLimited('concurrency', 1, 1);
      case 500:
        return glm(500, '500', 'Internal Error');
      case 503:
        return glm(503, '1305', 'The service may be temporarily overloaded, please try again later');
      case 'overloaded':
        return glm(429, '1305', 'The service may be temporarily overloaded, please try again later');
      case 'quota':
        // Observed with HTTP 429, not 402 (docs/providers.md §2.6).
        return glm(429, '1113', 'Insufficient balance or no resource package. Please recharge.');
      default:
        return glm(kind, String(kind), `Simulated error ${kind}`);
    }
  },
  directive: (detail) => glm(400, '1214', detail),
  fileNotFound: (id) => glm(404, '1214', `File ${id} does not exist`),
};

const KIMI_ORG_ID = 'org-sim0000000000000000';
const KIMI_ORG = `${KIMI_ORG_ID}<ak-sim00000000000000000>`;

const KIMI_ERRORS: SimErrorDialect = {
  notFound: (path) => kimi(404, 'resource_not_found_error', `Not found the resource ${path}`),
  methodNotAllowed: (method) => kimi(405, 'invalid_request_error', `Invalid request: method ${method} not allowed`),
  unauthorized: () => kimi(401, 'invalid_authentication_error', 'Invalid Authentication'),
  badJson: () => kimi(400, 'invalid_request_error', 'Invalid request: the request body is not valid JSON'),
  missing: (field) => kimi(400, 'invalid_request_error', `Invalid request: ${field} is required`),
  invalid: (detail) => kimi(400, 'invalid_request_error', `Invalid request: ${detail}`),
  outOfRange: (field, min, max) =>
    kimi(400, 'invalid_request_error', `Invalid request: ${field} must be in [${min}, ${max}]`),
  emptyMessage: (index, role) =>
    kimi(
      400,
      'invalid_request_error',
      `Invalid request: the message at position ${index} with role '${role}' must not be empty`,
    ),
  unknownModel: (model) => kimi(404, 'resource_not_found_error', `Not found the model ${model} or Permission denied`),
  promptTooLong: () => kimi(400, 'invalid_request_error', 'Input token length too long'),
  exceededTokenLimit: (contextWindow) =>
    kimi(400, 'invalid_request_error', `Your request exceeded model token limit : ${contextWindow}`),
  contentFilter: () => kimi(400, 'content_filter', 'The request was rejected because it was considered high risk'),
  rateLimited: (kind, limit, retryAfterSec) =>
    kimi(
      429,
      'rate_limit_reached_error',
      `Your account ${KIMI_ORG} request reached organization max ${kind === 'rpm' ? 'RPM' : 'concurrency'}: ${limit}, please try again after ${retryAfterSec} seconds`,
    ),
  injected: (kind, retryAfterSec) => {
    switch (kind) {
      case 429:
        return KIMI_ERRORS.rateLimited('rpm', 3, retryAfterSec);
      case 500:
        return kimi(500, 'server_error', 'Internal server error, please try again later');
      case 503:
        return kimi(503, 'engine_overloaded_error', 'The engine is currently overloaded, please try again later');
      case 'overloaded':
        return kimi(429, 'engine_overloaded_error', 'The engine is currently overloaded, please try again later');
      case 'quota':
        return kimi(
          429,
          'exceeded_current_quota_error',
          `You exceeded your current token quota: <${KIMI_ORG_ID}> 0, please check your account balance`,
        );
      default:
        return kimi(kind, kind < 500 ? 'invalid_request_error' : 'server_error', `Simulated error ${kind}`);
    }
  },
  directive: (detail) => kimi(400, 'invalid_request_error', `Invalid request: ${detail}`),
  fileNotFound: (id) => kimi(404, 'resource_not_found_error', `Not found the file ${id}`),
};

export const SIM_ERRORS: Readonly<Record<SimProvider, SimErrorDialect>> = { glm: GLM_ERRORS, kimi: KIMI_ERRORS };

/** The page an nginx edge returns when the upstream is down (`[[sim:html]]`). */
export function htmlGatewayError(): SimHttpError {
  const text =
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
  return new SimHttpError(502, undefined, {}, { text, contentType: 'text/html' });
}

/** Plain 404 for paths outside both provider prefixes. */
export function unknownRoute(): SimHttpError {
  return new SimHttpError(404, { error: { message: 'Not Found' } });
}
