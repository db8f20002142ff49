import type { SerializedRequest, SerializedResponse } from 'pino';

/**
 * What the per-request HTTP line keeps. Headers are left out whole rather
 * than redacted one by one: clients carry credentials in headers no list can
 * name ahead (x-api-key, api-key, proxy-authorization, their own), and the
 * line is written for every request, so copying and redacting every header
 * was also its largest cost.
 */
export function requestLogFields(req: SerializedRequest): Record<string, unknown> {
  return { id: req.id, method: req.method, url: req.url, remoteAddress: req.remoteAddress };
}

export function responseLogFields(res: SerializedResponse): Record<string, unknown> {
  return { statusCode: res.statusCode };
}
