/**
 * The one error class every Kumo service throws. Each API renders it in its own OpenStack
 * error shape in exactly one place (see `src/http/errors.ts`).
 * @module
 */

/** Every error code, with the HTTP status it maps to. */
export const ERROR_CODES = {
  /** The request body or query does not match the schema, or a value is out of range. */
  ERR_VALIDATION: 400,
  /** The request is well-formed but asks for something the service cannot do. */
  ERR_BAD_REQUEST: 400,
  /** No credentials, or the credentials are wrong, expired or revoked. */
  ERR_UNAUTHORIZED: 401,
  /** The caller is authenticated but policy does not allow the operation. */
  ERR_FORBIDDEN: 403,
  /** The resource (or a resource the request names) does not exist or is not visible. */
  ERR_NOT_FOUND: 404,
  /** The HTTP method is not supported on this path. */
  ERR_METHOD_NOT_ALLOWED: 405,
  /** The requested microversion or media type is not supported. */
  ERR_NOT_ACCEPTABLE: 406,
  /** A unique name is taken, or the resource is in a state that forbids the operation. */
  ERR_CONFLICT: 409,
  /** The resource went away while the request was being served (an image deleted during its upload). */
  ERR_GONE: 410,
  /** The request body is larger than the service accepts. */
  ERR_TOO_LARGE: 413,
  /** The request body has a content type the operation does not accept. */
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** The operation exists in the API but this deployment does not provide it. */
  ERR_NOT_IMPLEMENTED: 501,
  /** A bug or an unexpected failure of a dependency. */
  ERR_INTERNAL: 500,
} as const;

export type KumoErrorCode = keyof typeof ERROR_CODES;

export class KumoError extends Error {
  readonly code: KumoErrorCode;
  readonly status: number;
  /** Extra response headers the renderer must send (e.g. WWW-Authenticate). */
  readonly headers: Readonly<Record<string, string>>;
  /** The API's own name for this error, where its error body has one (Neutron's `type`, e.g. `NetworkNotFound`). */
  readonly kind: string | undefined;

  constructor(code: KumoErrorCode, message: string, options: { cause?: unknown; headers?: Record<string, string>; kind?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KumoError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.headers = Object.freeze({ ...(options.headers ?? {}) });
    this.kind = options.kind;
  }
}

/** A user error is the caller's fault: logged at info, no stack trace. */
export function isUserError(err: unknown): boolean {
  return err instanceof KumoError && err.status < 500;
}

export const notFound = (message: string) => new KumoError('ERR_NOT_FOUND', message);
/** 401; the API's error handler adds `WWW-Authenticate`. */
export const unauthorized = (message = 'The request you have made requires authentication.') => new KumoError('ERR_UNAUTHORIZED', message);
export const conflict = (message: string) => new KumoError('ERR_CONFLICT', message);
export const forbidden = (message = 'You are not authorized to perform the requested action.') =>
  new KumoError('ERR_FORBIDDEN', message);
export const badRequest = (message: string) => new KumoError('ERR_VALIDATION', message);
