/**
 * What every identity function receives: the store, config, keys and injected time and ids.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { KumoConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/database.js';
import { bumpRevision } from '../store/revision.js';
import type { KeyRepository } from './key-repository.js';

export interface IdentityDeps {
  readonly db: Db;
  readonly config: KumoConfig;
  readonly keys: KeyRepository;
  readonly logger: Logger;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** A new resource id: 32 lowercase hex digits, as Keystone makes them. */
  readonly newId: () => string;
}

export const IDENTITY_REVISION = 'identity';

export const newHexId = (): string => randomUUID().replaceAll('-', '');

/** Keystone's timestamp format: microseconds and a literal Z. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Parses the timestamp forms Keystone accepts; undefined when it is not a time. */
export function parseTime(value: string): number | undefined {
  const normalized = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(normalized);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A UTC timestamp as Keystone stores and returns application credential expiry: naive ISO-8601
 * with microseconds kept as given (Python's datetime has microseconds; JS dates only milliseconds).
 */
export function naiveUtcTime(value: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:Z|[+-]00:?00)?$/i.exec(value.trim());
  if (m) return Number.isNaN(Date.parse(`${m[1]}Z`)) ? undefined : `${m[1]}.${(m[2] ?? '').padEnd(6, '0')}`;
  const ms = parseTime(value);
  return ms === undefined ? undefined : isoTime(ms).replace(/Z$/, '');
}

export function parseJsonObject(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  const value = JSON.parse(text) as unknown;
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Runs `work` in a transaction that also moves the identity revision (invalidating token caches). */
export async function writeTransaction<T>(deps: IdentityDeps, work: (trx: Db) => Promise<T>): Promise<T> {
  return deps.db.transaction().execute(async (trx) => {
    const result = await work(trx);
    await bumpRevision(trx, IDENTITY_REVISION);
    return result;
  });
}

/** Splits a request body into the columns a resource knows and the "extra" attributes Keystone keeps verbatim. */
export function splitExtra(body: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!known.includes(k)) extra[k] = v;
  return extra;
}

export const toBool = (v: number): boolean => v === 1;
export const fromBool = (v: boolean | undefined, fallback = true): number => ((v ?? fallback) ? 1 : 0);
