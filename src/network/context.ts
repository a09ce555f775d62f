/**
 * What every network function receives, and the caller's view Neutron policy needs.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { KumoError } from '../errors.js';
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import { bumpRevision, readRevision } from '../store/revision.js';
import type { ServiceDeps } from '../service-deps.js';
import type { ProjectCaller } from '../http/auth.js';

export type NetworkDeps = ServiceDeps;

export const newUuid = (): string => randomUUID();

/** Neutron's timestamps: seconds, Z. */
export const neutronTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Neutron's policy reads no user: other services act on the network as a project (see workload-ports.ts). */
export type Caller = Pick<ProjectCaller, 'projectId' | 'isAdmin'>;

export const neutronError = (code: ConstructorParameters<typeof KumoError>[0], kind: string, message: string) => new KumoError(code, message, { kind });
export const badInput = (message: string) => neutronError('ERR_VALIDATION', 'HTTPBadRequest', `Invalid input for operation: ${message}`);

export const fromJsonArray = <T>(text: string): T[] => {
  const v = JSON.parse(text) as unknown;
  return Array.isArray(v) ? (v as T[]) : [];
};

/** The store-wide counter agents watch: every change that matters to the data plane bumps it in its own transaction. */
export const NETWORK_REVISION = 'network';
export const markChanged = (trx: Db): Promise<void> => bumpRevision(trx, NETWORK_REVISION);
export const networkRevision = (db: Db): Promise<number> => readRevision(db, NETWORK_REVISION);
/**
 * Moved when ports turn ACTIVE. Not part of NETWORK_REVISION (status is observation, and the network
 * controller would wake itself), but what a workload waiting for its ports watches.
 */
export const PORT_STATUS_REVISION = 'network-port-status';
export const portStatusRevision = (db: Db): Promise<number> => readRevision(db, PORT_STATUS_REVISION);

/**
 * Runs `attempt` again when it loses a race on a unique constraint (an address, a MAC, a VNI
 * taken by a concurrent transaction on PostgreSQL); after `max` tries the error from `exhausted` is thrown.
 */
export async function retryOnUniqueViolation<T>(attempt: () => Promise<T>, exhausted: () => Error, max = 10): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if (n >= max) throw exhausted();
    }
  }
}

/** The standard attributes every Neutron resource renders the same way. */
export function standardAttributes(row: { description: string; tags: string; created_at: string; updated_at: string; revision_number: number }) {
  return { description: row.description, tags: fromJsonArray<string>(row.tags), created_at: row.created_at, updated_at: row.updated_at, revision_number: row.revision_number };
}
