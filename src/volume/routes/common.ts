/** What the volume route files share, and the one helper that serves a route under both `/v3/{project_id}/…` and `/v3/…`. */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { projectCallerOf, requireAuth } from '../../http/auth.js';
import { cinderError } from '../context.js';
import type { Caller, VolumeDeps } from '../context.js';
import { minorOf } from '../microversion.js';
import { typeNamesOf } from '../volumes.js';
import type { QueryValue, VolumeViewContext } from '../volumes.js';

export interface VolumeRouteEnv {
  deps: VolumeDeps;
  /** `{publicUrl}/volume`. */
  base: string;
}

/**
 * The caller, after checking a project id in the path is the token's (admins may name any):
 * Cinder's URLs carry the project id, and the SDK and cinderclient both send it.
 */
export function caller(request: FastifyRequest): Caller {
  const c: Caller = { ...projectCallerOf(requireAuth(request), 'ERR_FORBIDDEN'), requestId: String(request.id) };
  const pathProject = (request.params as Record<string, string> | undefined)?.project_id;
  if (pathProject !== undefined && pathProject !== c.projectId && !c.isAdmin) {
    throw cinderError('ERR_BAD_REQUEST', `Malformed request url: URL's project_id '${pathProject}' doesn't match Context's project_id '${c.projectId}'`);
  }
  return c;
}

export const query = (request: FastifyRequest): Record<string, QueryValue> => (request.query ?? {}) as Record<string, QueryValue>;
export const param = (request: FastifyRequest, name: string): string => (request.params as Record<string, string>)[name];

export async function viewOf(env: VolumeRouteEnv, request: FastifyRequest): Promise<VolumeViewContext> {
  return { caller: caller(request), minor: minorOf(request), base: env.base, typeNames: await typeNamesOf(env.deps.db) };
}

/** The resource object of a body (`{"volume": {...}}`). */
export function bodyObject(body: unknown, key: string): Record<string, unknown> {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v ?? null)}. '${key}' is a required property`);
  return v as Record<string, unknown>;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Registers `handler` at `/v3{path}` and `/v3/:project_id{path}`. */
export function route(app: FastifyInstance, method: Method, path: string, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void {
  for (const url of [`/v3${path}`, `/v3/:project_id${path}`]) app.route({ method, url, handler: handler as RouteHandlerMethod });
}

/** `?with_count=true` from 3.45. */
export const withCount = (request: FastifyRequest): boolean => {
  const v = query(request).with_count;
  const s = Array.isArray(v) ? v.at(-1) : v;
  return minorOf(request) >= 45 && !!s && ['1', 'true', 'yes', 't', 'on'].includes(s.toLowerCase());
};

/** The `next` link of a list page, with the request's query and the marker. */
export function nextLink(env: VolumeRouteEnv, request: FastifyRequest, collection: string, marker: string, projectId: string) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query(request))) if (k !== 'marker') for (const x of Array.isArray(v) ? v : [v ?? '']) params.append(k, x);
  params.set('marker', marker);
  return [{ rel: 'next', href: `${env.base}/v3/${projectId}/${collection}?${params.toString()}` }];
}
