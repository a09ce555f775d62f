/** What the network route files share. */
import type { FastifyRequest } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { projectCallerOf, requireAuth } from '../../http/auth.js';
import { assertValid } from '../../http/validation.js';
import { badInput } from '../context.js';
import type { Caller, NetworkDeps } from '../context.js';
import type { Query } from '../listing.js';

export interface NetworkRouteEnv {
  deps: NetworkDeps;
  /** `{publicUrl}/network`. */
  base: string;
}

export const caller = (_env: NetworkRouteEnv, request: FastifyRequest): Caller => projectCallerOf(requireAuth(request), 'ERR_UNAUTHORIZED');
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

/**
 * The resources of a create body: `{"network": {...}}`, or Neutron's bulk form
 * `{"networks": [{...}, ...]}`. Each is checked against the single-resource body `schema`.
 */
export function createBodies<T>(body: unknown, key: string, plural: string, schema: TSchema, allowed: readonly string[]): { inputs: T[]; bulk: boolean } {
  const many = (body as Record<string, unknown> | undefined)?.[plural];
  if (many === undefined) {
    assertValid(schema, body);
    return { inputs: [resourceBody<T>(body, key, allowed)], bulk: false };
  }
  if (!Array.isArray(many) || many.length === 0) throw badInput(`'${plural}' must be a non-empty list.`);
  return {
    inputs: many.map((item) => {
      assertValid(schema, { [key]: item });
      return resourceBody<T>({ [key]: item }, key, allowed);
    }),
    bulk: true,
  };
}

/** Creates every input or none: when one fails, the ones already created are removed again. */
export async function createAllOrNone<T, R>(inputs: T[], create: (input: T) => Promise<R>, remove: (created: R) => Promise<void>): Promise<R[]> {
  const done: R[] = [];
  try {
    for (const input of inputs) done.push(await create(input));
    return done;
  } catch (err) {
    for (const r of done.reverse()) await remove(r).catch(() => undefined);
    throw err;
  }
}
