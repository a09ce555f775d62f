/**
 * What every compute-service function receives, the caller's view Nova policy needs, and Nova's
 * error helpers.
 * @module
 */
import { KumoError } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';
import type { ProjectCaller } from '../http/auth.js';
import type { ImageDeps } from '../image/context.js';
import type { NetworkDeps } from '../network/context.js';
import type { PlacementDeps } from '../placement/context.js';
import type { VolumeDeps } from '../volume/context.js';
import type { ServiceDeps } from '../service-deps.js';
import { bumpRevision } from '../store/revision.js';
import type { ComputeHostAccess } from './host-access.js';

export interface ComputeDeps extends ServiceDeps {
  /** The network service, reached only through src/network/workload-ports.ts. */
  readonly network: NetworkDeps;
  /** The image service, reached only through src/compute/image-access.ts. */
  readonly image: ImageDeps;
  /** The placement service, reached only through src/placement/scheduling.ts. */
  readonly placement: PlacementDeps;
  /** The block storage service, reached only through src/compute/server-volumes.ts (and its agents' heartbeat, for os-services). */
  readonly volume: VolumeDeps;
  /** The compute hosts that can take servers now (agents with a working hypervisor). */
  readonly computeHosts: () => readonly string[];
  /** Live operations on servers' hosts (console); absent when no agent runs here. */
  readonly hosts: ComputeHostAccess | undefined;
}

export interface Caller extends ProjectCaller {
  /** The request id, recorded with instance actions. */
  readonly requestId: string;
}

export const novaError = (code: KumoErrorCode, message: string) => new KumoError(code, message);
export const invalid = (message: string) => novaError('ERR_VALIDATION', message);
export const adminOnly = (action: string) => novaError('ERR_FORBIDDEN', `Policy doesn't allow ${action} to be performed.`);

/** Nova's timestamps: ISO 8601 with seconds, `Z` (2.1 shows them this way in servers; flavors have none). */
export const novaTime = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** What Nova's `date-time` query parameters accept (ISO 8601 as the iso8601 library parses it, not any string Date.parse reads). */
export const isIsoDateTime = (v: string): boolean =>
  /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)?)?$/.test(v) && !Number.isNaN(Date.parse(v));

/** Nova's links of a resource in `collection` (servers, flavors, ...). */
export const novaLinks = (base: string, projectId: string | null, collection: string, id: string) => [
  { rel: 'self', href: `${base}/v2.1/${projectId ? `${projectId}/` : ''}${collection}/${id}` },
  { rel: 'bookmark', href: `${base}/${projectId ? `${projectId}/` : ''}${collection}/${id}` },
];

/** The store-wide counter the compute controller watches; every API write moves it. */
export const COMPUTE_REVISION = 'compute';
export const markComputeChanged = (deps: Pick<ComputeDeps, 'db'>): Promise<void> => bumpRevision(deps.db, COMPUTE_REVISION);
