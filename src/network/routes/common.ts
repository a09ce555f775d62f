/** What the network route files share. */
import type { FastifyRequest } from 'fastify';
import { requireAuth } from '../../http/auth.js';
import { badInput, callerOf } from '../context.js';
import type { Caller, NetworkDeps } from '../context.js';
import type { Query } from '../listing.js';

export interface NetworkRouteEnv {
  deps: NetworkDeps;
  /** `{publicUrl}/network`. */
  base: string;
}

export const caller = (_env: NetworkRouteEnv, request: FastifyRequest): Caller => callerOf(requireAuth(request));
export const queryOf = (request: FastifyRequest): Query => (request.query ?? {}) as Query;
export const selfUrl = (env: NetworkRouteEnv, request: FastifyRequest): string => `${env.deps.config.publicUrl}${request.url}`;

/** The resource object in a body (`{"network": {...}}`), checked against the attributes the resource has. */
export function resourceBody<T>(body: unknown, key: string, allowed: readonly string[]): T {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badInput(`Resource body required: '${key}'.`);
  const unknown = Object.keys(v).filter((k) => !allowed.includes(k));
  if (unknown.length) throw badInput(`Unrecognized attribute(s) '${unknown.join(', ')}'.`);
  return v as T;
}

/** `?fields=a&fields=b` on a single resource. */
export function project(item: Record<string, unknown>, q: Query): Record<string, unknown> {
  const fields = q.fields === undefined ? [] : Array.isArray(q.fields) ? q.fields : [q.fields];
  return fields.length ? Object.fromEntries(fields.filter((f) => f in item).map((f) => [f, item[f]])) : item;
}
