/** What the image route files share: the caller, and an image as Glance renders it. */
import type { FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { KumoError } from '../../errors.js';
import { projectCallerOf, requireAuth } from '../../http/auth.js';
import type { Caller, ImageDeps } from '../context.js';
import type { ImageRecord } from '../images.js';
import type { ImageMember } from '../members.js';

export interface ImageRouteEnv {
  deps: ImageDeps;
  /** `{publicUrl}/image`. */
  base: string;
}

export const caller = (request: FastifyRequest): Caller => projectCallerOf(requireAuth(request), 'ERR_UNAUTHORIZED');
export const imageIdOf = (request: FastifyRequest): string => (request.params as { id: string }).id;

/** The one store: the control plane's filesystem. */
export const LOCAL_STORE = 'local';

/**
 * Glance's image view: base attributes, the extra properties at the top level, and relative links.
 * Since `/v2/info/stores` is served (Glance's multiple-stores mode), an image whose data is in the
 * store says so in `stores`, as Glance does; Tempest's import waiter compares it with the store list.
 */
export function renderImage(image: ImageRecord): Record<string, unknown> {
  const { properties, ...base } = image;
  const stores = image.status === 'active' || image.status === 'deactivated' ? { stores: LOCAL_STORE } : {};
  return { ...properties, ...base, ...stores, self: `/v2/images/${image.id}`, file: `/v2/images/${image.id}/file`, schema: '/v2/schemas/image' };
}

export function renderMember(m: ImageMember): Record<string, unknown> {
  return { created_at: m.created_at, image_id: m.image_id, member_id: m.member, schema: '/v2/schemas/member', status: m.status, updated_at: m.updated_at };
}

/**
 * The raw request body (the app's octet-stream parser hands it over unread); an empty body is
 * empty data. Image data must be sent as application/octet-stream (415 otherwise, as Glance).
 */
export function bodyStream(request: FastifyRequest): Readable {
  const type = String(request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/octet-stream') throw new KumoError('ERR_UNSUPPORTED_MEDIA_TYPE', `Invalid content type ${type || '(none)'}`);
  const body = request.body;
  return body instanceof Readable ? body : Readable.from([]);
}

/** The declared body length, when the client sent one (not for chunked uploads). */
export function declaredLength(request: FastifyRequest): number | undefined {
  const v = request.headers['content-length'];
  return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
}
