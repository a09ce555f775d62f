/** What the compute route files share. */
import type { FastifyRequest } from 'fastify';
import { projectCallerOf, requireAuth } from '../../http/auth.js';
import { invalid } from '../context.js';
import type { Caller, ComputeDeps } from '../context.js';

export interface ComputeRouteEnv {
  deps: ComputeDeps;
  /** `{publicUrl}/compute`. */
  base: string;
  /** `{publicUrl}/image/v2`: where servers' image links point. */
  imageBase: string;
}

export const caller = (request: FastifyRequest): Caller => ({ ...projectCallerOf(requireAuth(request), 'ERR_FORBIDDEN'), requestId: String(request.id) });
export type QueryValue = string | string[] | undefined;
export const query = (request: FastifyRequest): Record<string, QueryValue> => (request.query ?? {}) as Record<string, QueryValue>;
/** The last value of a query parameter given more than once, as Nova's handlers read most of them. */
export const lastValue = (v: QueryValue): string | undefined => (Array.isArray(v) ? v.at(-1) : v);
export const param = (request: FastifyRequest, name: string): string => (request.params as Record<string, string>)[name];

/** The resource object of a body (`{"flavor": {...}}`). */
export function bodyObject(body: unknown, key: string): Record<string, unknown> {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalid(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v ?? null)}. '${key}' is a required property and must be an object`);
  return v as Record<string, unknown>;
}

export function optionalInt(name: string, value: QueryValue, min = 0): number | undefined {
  const v = lastValue(value);
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw invalid(`Invalid input for query parameters ${name}. Value: ${v}. '${v}' is not a valid integer of at least ${min}`);
  return Number(v);
}
