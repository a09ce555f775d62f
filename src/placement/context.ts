/**
 * What every placement function receives, placement's policy (admin only) and its error
 * helpers: each error carries one of placement's error codes (`placement.concurrent_update`, ...)
 * as its `kind`, which the renderer puts in `errors[].code`.
 * @module
 */
import { KumoError } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';
import type { ValidatedToken } from '../identity/tokens.js';
import type { ServiceDeps } from '../service-deps.js';

export type PlacementDeps = ServiceDeps;

/** Placement's error codes (placement/errors.py) that clients act on. */
export const CODES = {
  DEFAULT: 'placement.undefined_code',
  INVENTORY_INUSE: 'placement.inventory.inuse',
  CONCURRENT_UPDATE: 'placement.concurrent_update',
  DUPLICATE_NAME: 'placement.duplicate_name',
  PROVIDER_IN_USE: 'placement.resource_provider.inuse',
  PROVIDER_CANNOT_DELETE_PARENT: 'placement.resource_provider.cannot_delete_parent',
  PROVIDER_NOT_FOUND: 'placement.resource_provider.not_found',
  QUERYPARAM_BAD_VALUE: 'placement.query.bad_value',
  ILLEGAL_DUPLICATE_QUERYPARAM: 'placement.query.duplicate_key',
} as const;

export type PlacementCode = (typeof CODES)[keyof typeof CODES];

export const placementError = (code: KumoErrorCode, message: string, kind: PlacementCode = CODES.DEFAULT) => new KumoError(code, message, { kind });
export const invalid = (message: string) => placementError('ERR_VALIDATION', message);
export const concurrentUpdate = (message: string) => placementError('ERR_CONFLICT', message, CODES.CONCURRENT_UPDATE);
export const providerNotFound = (uuid: string) => placementError('ERR_NOT_FOUND', `No resource provider with uuid ${uuid} found`, CODES.PROVIDER_NOT_FOUND);

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
export const isUuid = (v: string): boolean => UUID.test(v);

/** A UUID in placement's canonical form (lower case, dashed); 400 when `value` is not one. */
export function canonicalUuid(value: string, field: string): string {
  if (!isUuid(value)) throw invalid(`Failed validating 'format' in '${field}': '${value}' is not a 'uuid'`);
  const hex = value.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Placement's default policy in Zed: every operation needs the admin role (with scope checks
 * off, as Zed ships, a project admin qualifies; system-scoped admin and reader tokens too, the
 * reader for reads only).
 */
export function authorize(token: ValidatedToken, action: string, write: boolean): void {
  const roles = new Set(token.roles.map((r) => r.name));
  if (roles.has('admin')) return;
  if (token.system && !write && roles.has('reader')) return;
  throw placementError('ERR_FORBIDDEN', `Policy does not allow placement:${action} to be performed.`);
}

/** Placement's timestamps (created/updated are not rendered; kept for operators reading the store). */
export const isoTime = (ms: number): string => new Date(ms).toISOString();
