/** What the placement route files share: policy, microversion gates, and placement's query syntax. */
import type { FastifyRequest } from 'fastify';
import { requireAuth } from '../../http/auth.js';
import { authorize, canonicalUuid, CODES, invalid, isUuid, placementError } from '../context.js';
import type { PlacementDeps } from '../context.js';

export interface PlacementRouteEnv {
  deps: PlacementDeps;
  /** `{publicUrl}/placement`. */
  base: string;
  /** The path part of `base`, which placement's links are relative to. */
  linkRoot: string;
}

/** Policy for `action` (e.g. `resource_providers:list`): admin only, as placement's default policy. */
export function admit(request: FastifyRequest, action: string): void {
  authorize(requireAuth(request), action, request.method !== 'GET' && request.method !== 'HEAD');
}

/** The route does not exist before microversion 1.`minor`: placement answers 404 then. */
export function since(request: FastifyRequest, minor: number): void {
  if (request.placementMinor < minor) throw placementError('ERR_NOT_FOUND', 'The resource could not be found.');
}

export const atLeast = (request: FastifyRequest, minor: number): boolean => request.placementMinor >= minor;

export type Query = Record<string, string | string[] | undefined>;
export const queryOf = (request: FastifyRequest): Query => (request.query ?? {}) as Query;

/** A query parameter given at most once (placement rejects repeats of most keys). */
export function single(q: Query, key: string): string | undefined {
  const v = q[key];
  if (Array.isArray(v)) throw placementError('ERR_VALIDATION', `Query parameter '${key}' may only be given once.`, CODES.ILLEGAL_DUPLICATE_QUERYPARAM);
  return v;
}

/** Every value of a repeatable query parameter. */
export function repeated(q: Query, key: string): string[] {
  const v = q[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export const badQuery = (message: string) => placementError('ERR_VALIDATION', message, CODES.QUERYPARAM_BAD_VALUE);

/** `VCPU:1,MEMORY_MB:512` → `{VCPU: 1, MEMORY_MB: 512}`. */
export function parseResources(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^([A-Z0-9_]+):(\d+)$/.exec(part.trim());
    if (!m) throw badQuery(`Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: ${text}.`);
    if (m[1] in out) throw badQuery(`Badly formed resources parameter. Resource class ${m[1]} is listed more than once.`);
    const amount = Number(m[2]);
    if (amount < 1) throw badQuery(`Requested resource ${m[1]} expected positive integer amount. Got: ${m[2]}.`);
    out[m[1]] = amount;
  }
  return out;
}

export interface TraitQuery { required: string[]; forbidden: string[]; anyOf: string[][] }

/** `required=A,!B` (forbidden from 1.22), and from 1.39 `required=in:A,B` (any of) and repeats. */
export function parseRequired(values: string[], minor: number): TraitQuery {
  const out: TraitQuery = { required: [], forbidden: [], anyOf: [] };
  if (values.length > 1 && minor < 39) throw badQuery(`Query parameter 'required' may only be given once.`);
  for (const value of values) {
    if (value.startsWith('in:')) {
      if (minor < 39) throw badQuery(`Invalid query string parameters: The 'in:' syntax of 'required' needs microversion 1.39.`);
      const names = value.slice(3).split(',').map((s) => s.trim()).filter(Boolean);
      if (!names.length) throw badQuery('Invalid query string parameters: Expected \'required\' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC.');
      out.anyOf.push(names);
      continue;
    }
    for (const raw of value.split(',').map((s) => s.trim())) {
      if (!raw) throw badQuery(`Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,!CUSTOM_MAGIC. Got: ${value}`);
      if (raw.startsWith('!')) {
        if (minor < 22) throw badQuery(`Invalid query string parameters: forbidden traits (!${raw.slice(1)}) need microversion 1.22.`);
        out.forbidden.push(raw.slice(1));
      } else out.required.push(raw);
    }
  }
  return out;
}

/** `member_of=in:a,b` or `member_of=a` (repeatable from 1.24; `!` from 1.32): every entry must match. */
export function parseMemberOf(values: string[], minor: number): { anyOf: string[][]; none: string[] } {
  if (values.length > 1 && minor < 24) throw badQuery(`Query parameter 'member_of' may only be given once.`);
  const out = { anyOf: [] as string[][], none: [] as string[] };
  for (const value of values) {
    const negate = value.startsWith('!');
    if (negate && minor < 32) throw badQuery(`Invalid query string parameters: forbidden aggregates need microversion 1.32.`);
    const body = negate ? value.slice(1) : value;
    const list = (body.startsWith('in:') ? body.slice(3) : body).split(',').map((s) => s.trim());
    if (!list.length || list.some((u) => !isUuid(u))) throw badQuery(`Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: ${value}`);
    if (negate) out.none.push(...list.map((u) => canonicalUuid(u, 'member_of')));
    else out.anyOf.push(list.map((u) => canonicalUuid(u, 'member_of')));
  }
  return out;
}

export function parseLimit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(value)) throw badQuery(`Invalid query string parameters: 'limit' must be a positive integer, not '${value}'.`);
  return Number(value);
}

export const uuidParam = (request: FastifyRequest): string => (request.params as { uuid: string }).uuid;

/** A consumer uuid in a path or body; 400 when it is not one. */
export function consumerUuid(value: string): string {
  if (!isUuid(value)) throw invalid(`Malformed consumer_uuid: ${value}`);
  return canonicalUuid(value, 'consumer_uuid');
}
