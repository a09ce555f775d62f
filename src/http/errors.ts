/**
 * Turning any thrown error into a response: one normalizer, and one renderer per API family
 * for OpenStack's error shapes. 4xx are logged at info, 5xx at error with the stack.
 * @module
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KumoError, isUserError } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 410: 'Gone', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type',
  500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
};

export const titleOf = (status: number): string => TITLES[status] ?? 'Error';

/** Fastify's own errors (schema validation, bad JSON, body too large) become KumoErrors. */
export function normalizeError(err: unknown): KumoError {
  if (err instanceof KumoError) return err;
  const fe = err as FastifyError & { validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[] };
  if (fe && Array.isArray(fe.validation) && fe.validation.length) {
    const v = fe.validation[0];
    let field = (v.instancePath ?? '').replace(/^\//, '');
    if (v.params && typeof v.params.missingProperty === 'string') field = field ? `${field}/${v.params.missingProperty}` : v.params.missingProperty;
    if (v.params && typeof v.params.additionalProperty === 'string') field = field ? `${field}/${v.params.additionalProperty}` : v.params.additionalProperty;
    return new KumoError('ERR_VALIDATION', `Invalid input for field '${field || fe.validationContext || 'body'}': ${v.message ?? 'is invalid'}.`, { cause: err });
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const byStatus: Record<number, KumoErrorCode> = { 404: 'ERR_NOT_FOUND', 405: 'ERR_METHOD_NOT_ALLOWED', 413: 'ERR_TOO_LARGE', 415: 'ERR_UNSUPPORTED_MEDIA_TYPE' };
    return new KumoError(byStatus[fe.statusCode] ?? 'ERR_BAD_REQUEST', fe.message, { cause: err });
  }
  return new KumoError('ERR_INTERNAL', 'An unexpected error prevented the server from fulfilling your request.', { cause: err });
}

export type ErrorBodyRenderer = (err: KumoError, request: FastifyRequest) => unknown;

/** Keystone: {"error": {"code", "title", "message"}} */
export const renderKeystoneError: ErrorBodyRenderer = (err) => ({ error: { code: err.status, title: titleOf(err.status), message: err.message } });

const NEUTRON_DEFAULT_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest', 401: 'NotAuthenticated', 403: 'NotAuthorized', 404: 'NotFound', 405: 'HTTPMethodNotAllowed', 409: 'Conflict', 413: 'RequestEntityTooLarge', 415: 'HTTPUnsupportedMediaType', 500: 'InternalServerError', 501: 'NotImplemented',
};

/** Neutron: {"NeutronError": {"type", "message", "detail"}} */
export const renderNeutronError: ErrorBodyRenderer = (err) => ({
  NeutronError: { type: err.kind ?? NEUTRON_DEFAULT_TYPES[err.status] ?? 'NeutronException', message: err.message, detail: '' },
});

/** Zun (and Magnum): {"errors": [{"status", "code", "title", "detail", "request_id", "links"}]} */
export const renderZunError: ErrorBodyRenderer = (err, request) => ({
  errors: [{ request_id: String(request.id ?? ''), code: err.kind ?? '', status: err.status, title: titleOf(err.status), detail: err.message, links: [] }],
});

/** An error body that is not JSON (Glance answers HTML or plain text unless JSON is asked for). */
export class TypedErrorBody {
  constructor(readonly contentType: string, readonly body: string) {}
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Glance (webob): the body follows the Accept header. `application/json` gets
 * {"code": "404 Not Found", "title", "message"}; text/html, any-type or no Accept gets webob's
 * HTML page (glanceclient turns it into "404 Not Found: <message>"); anything else plain text.
 */
export const renderGlanceError: ErrorBodyRenderer = (err, request) => {
  const status = `${err.status} ${titleOf(err.status)}`;
  const accept = String(request.headers.accept ?? '*/*').toLowerCase();
  const wantsHtml = accept.includes('text/html') || accept.includes('*/*');
  if (accept.includes('application/json') && !wantsHtml) return { code: status, title: titleOf(err.status), message: err.message };
  if (wantsHtml) {
    return new TypedErrorBody('text/html; charset=UTF-8',
      `<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n  ${escapeHtml(err.message)}<br /><br />\n\n\n\n </body>\n</html>`);
  }
  return new TypedErrorBody('text/plain; charset=UTF-8', `${status}\n\n${err.message}\n\n   `);
};

const NOVA_FAULT_NAMES: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod', 409: 'conflictingRequest',
  413: 'overLimit', 415: 'badMediaType', 429: 'overLimit', 501: 'notImplemented', 503: 'serviceUnavailable',
};

/** Nova: {"itemNotFound": {"code", "message"}}, the key named after the status (`computeFault` for the rest). */
export const renderNovaError: ErrorBodyRenderer = (err) => ({ [NOVA_FAULT_NAMES[err.status] ?? 'computeFault']: { code: err.status, message: err.message } });

/**
 * Cinder: the same fault names as Nova (both come from the same wsgi Fault class), e.g.
 * {"overLimit": {"code": 413, "message"}} for quotas; `computeFault` for the rest.
 */
export const renderCinderError: ErrorBodyRenderer = (err) => ({ [NOVA_FAULT_NAMES[err.status] ?? 'computeFault']: { code: err.status, message: err.message } });

/**
 * `identityUri` goes into `WWW-Authenticate` on every 401, whichever code path raised it
 * (a missing token, a failed login, a revoked token).
 */
export function makeErrorHandler(render: ErrorBodyRenderer, identityUri: string) {
  return (raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = normalizeError(raw);
    if (err.status === 401) reply.header('WWW-Authenticate', `Keystone uri="${identityUri}"`);
    if (isUserError(err)) request.log.info({ err: { code: err.code, message: err.message }, status: err.status }, 'request failed');
    else request.log.error({ err: raw, status: err.status }, 'request failed with a server error');
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    const body = render(err, request);
    if (body instanceof TypedErrorBody) return reply.status(err.status).type(body.contentType).send(body.body);
    return reply.status(err.status).type('application/json').send(body);
  };
}

/**
 * Placement: {"errors": [{"status", "title", "detail", "code", "request_id"}]}, `code` being
 * placement's error code (the KumoError's `kind`). A 406 also names the supported `range`,
 * which osc-placement reads to retry at a version the server has.
 */
export const placementErrorRenderer = (range: { min: string; max: string }): ErrorBodyRenderer => (err, request) => ({
  errors: [{
    status: err.status, title: titleOf(err.status), detail: err.message, code: err.kind ?? 'placement.undefined_code', request_id: String(request.id ?? ''),
    ...(err.status === 406 ? { max_version: range.max, min_version: range.min } : {}),
  }],
});
