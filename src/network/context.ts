/**
 * What every network function receives, and the caller's view Neutron policy needs.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { KumoConfig } from '../config.js';
import { KumoError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/database.js';
import type { ValidatedToken } from '../identity/tokens.js';

export interface NetworkDeps {
  readonly db: Db;
  readonly config: KumoConfig;
  readonly logger: Logger;
  readonly now: () => number;
  readonly newId: () => string;
}

export const newUuid = (): string => randomUUID();

/** Neutron's timestamps: seconds, Z. */
export const neutronTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface Caller {
  projectId: string;
  isAdmin: boolean;
}

export function callerOf(token: ValidatedToken): Caller {
  if (!token.project) throw new KumoError('ERR_UNAUTHORIZED', 'A project-scoped token is required.');
  return { projectId: token.project.id, isAdmin: token.roles.some((r) => r.name === 'admin') };
}

export const neutronError = (code: ConstructorParameters<typeof KumoError>[0], kind: string, message: string) => new KumoError(code, message, { kind });
export const badInput = (message: string) => neutronError('ERR_VALIDATION', 'HTTPBadRequest', `Invalid input for operation: ${message}`);

export const fromJsonArray = <T>(text: string): T[] => {
  const v = JSON.parse(text) as unknown;
  return Array.isArray(v) ? (v as T[]) : [];
};
