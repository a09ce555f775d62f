/** What every identity route file shares: the caller, query parsing and list bodies. */
import type { FastifyRequest } from 'fastify';
import { requireAuth } from '../../http/auth.js';
import { badRequest } from '../../errors.js';
import type { IdentityDeps } from '../context.js';
import type { ValidatedToken } from '../tokens.js';

export interface RouteEnv {
  deps: IdentityDeps;
  /** `{publicUrl}/identity/v3`: the base of every link. */
  base: string;
}

export const caller = (_env: RouteEnv, request: FastifyRequest): ValidatedToken => requireAuth(request);

export type Query = Record<string, string | string[] | undefined>;

export function queryOf(request: FastifyRequest): Query {
  return (request.query ?? {}) as Query;
}

/** A single-valued query parameter (the last one wins when repeated). */
export function str(q: Query, key: string): string | undefined {
  const v = q[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Keystone's boolean query parsing: "0", "false", "no", "off" are false; a bare key or anything else is true. */
export function bool(q: Query, key: string): boolean | undefined {
  const v = str(q, key);
  if (v === undefined) return undefined;
  return !['0', 'false', 'f', 'no', 'n', 'off'].includes(v.toLowerCase());
}

export function csv(q: Query, key: string): string[] | undefined {
  const v = str(q, key);
  return v === undefined ? undefined : v.split(',').filter((s) => s !== '');
}

export function listBody<T>(env: RouteEnv, request: FastifyRequest, key: string, items: T[]) {
  return { [key]: items, links: { self: `${env.deps.config.publicUrl}${request.url}`, previous: null, next: null } };
}

/** The resource object inside a request body, e.g. `body.project`; 400 when it is missing. */
export function member<T = Record<string, unknown>>(body: unknown, key: string): T {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`Invalid input for field '${key}': '${key}' is a required property.`);
  return v as T;
}
