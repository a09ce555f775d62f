/**
 * What every container-service function receives, the caller's view Zun policy needs, and
 * Zun's error helpers.
 * @module
 */
import { KumoError } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';
import type { ProjectCaller } from '../http/auth.js';
import type { ImageDeps } from '../image/context.js';
import type { NetworkDeps } from '../network/context.js';
import type { Db } from '../store/database.js';
import type { ServiceDeps } from '../service-deps.js';
import type { VolumeDeps } from '../volume/context.js';
import { bumpRevision, readRevision } from '../store/revision.js';
import type { HostRuntimeAccess } from './host-access.js';

export interface ContainerDeps extends ServiceDeps {
  /** The network service, reached only through src/network/workload-ports.ts. */
  readonly network: NetworkDeps;
  /** The image service (Zun's glance image driver), reached only through src/container/image-access.ts. */
  readonly image: ImageDeps;
  /** The block storage service (Zun's cinder volume driver), reached only through src/container/container-volumes.ts. */
  readonly volume: VolumeDeps;
  /** Live operations on a container's host (logs, exec, top, ...); absent when no agent runs here. */
  readonly hosts: HostRuntimeAccess | undefined;
}

export type Caller = ProjectCaller;

export const zunError = (code: KumoErrorCode, message: string) => new KumoError(code, message);
export const invalid = (message: string) => zunError('ERR_VALIDATION', message);
export const containerNotFound = (ident: string) => zunError('ERR_NOT_FOUND', `Container ${ident} could not be found.`);

/** A row by UUID, else by its name, which must be unique among `named` (Zun resolves names server-side). */
export async function byIdOrName<T>(ident: string, kind: 'container' | 'capsule', byId: () => Promise<T | undefined>, named: () => Promise<T[]>, notFound: (ident: string) => KumoError): Promise<T> {
  const row = await byId();
  if (row) return row;
  const rows = await named();
  if (rows.length > 1) throw zunError('ERR_CONFLICT', `Multiple ${kind}s exist with same name ${ident}. Please use the ${kind} uuid instead.`);
  if (!rows.length) throw notFound(ident);
  return rows[0];
}

/** Zun's self and bookmark links of a resource in `collection` (containers, capsules, hosts). */
export const zunLinks = (baseUrl: string, collection: string, id: string) => [
  { href: `${baseUrl}/v1/${collection}/${id}`, rel: 'self' },
  { href: `${baseUrl}/${collection}/${id}`, rel: 'bookmark' },
];

/** The one availability zone (Zun's default name): every host is in it. */
export const AVAILABILITY_ZONE = 'nova';

/** A zone a request names must be one that exists. */
export function checkAvailabilityZone(zone: unknown): void {
  if (zone === undefined || zone === null || zone === '' || zone === AVAILABILITY_ZONE) return;
  throw zunError('ERR_VALIDATION', `Availability zone ${String(zone)} does not exist; the zones here: ${AVAILABILITY_ZONE}.`);
}

/** Zun's timestamps: ISO-8601 seconds with an explicit UTC offset. */
export const zunTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

/** The store-wide counter the container controller watches. */
export const CONTAINER_REVISION = 'container';
export const markContainersChanged = (db: Db): Promise<void> => bumpRevision(db, CONTAINER_REVISION);
export const containerRevision = (db: Db): Promise<number> => readRevision(db, CONTAINER_REVISION);
