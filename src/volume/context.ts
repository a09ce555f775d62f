/**
 * What every volume-service function receives, the caller's view Cinder policy needs, Cinder's
 * error helpers, and the store-wide counter the volume controller watches.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { KumoError } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';
import type { ProjectCaller } from '../http/auth.js';
import type { ImageDeps } from '../image/context.js';
import type { ServiceDeps } from '../service-deps.js';
import { bumpRevision } from '../store/revision.js';

export interface VolumeDeps extends ServiceDeps {
  /** The image service, reached only through src/volume/image-access.ts. */
  readonly image: ImageDeps;
}

export interface Caller extends ProjectCaller {
  readonly requestId: string;
}

export const newVolumeId = (): string => randomUUID();

export const cinderError = (code: KumoErrorCode, message: string) => new KumoError(code, message);
/** Cinder's InvalidInput (400). */
export const invalidInput = (reason: string) => cinderError('ERR_VALIDATION', `Invalid input received: ${reason}`);
/** Cinder's InvalidVolume (400). */
export const invalidVolume = (reason: string) => cinderError('ERR_BAD_REQUEST', `Invalid volume: ${reason}`);
/** Cinder's InvalidSnapshot (400). */
export const invalidSnapshot = (reason: string) => cinderError('ERR_BAD_REQUEST', `Invalid snapshot: ${reason}`);
/** Cinder's PolicyNotAuthorized (403). */
export const policyDenied = (action: string) => cinderError('ERR_FORBIDDEN', `Policy doesn't allow ${action} to be performed.`);
export const volumeNotFound = (id: string) => cinderError('ERR_NOT_FOUND', `Volume ${id} could not be found.`);
export const snapshotNotFound = (id: string) => cinderError('ERR_NOT_FOUND', `Snapshot ${id} could not be found.`);
/** Cinder's QuotaError family: 413 with Retry-After, rendered as overLimit. */
export const overQuota = (message: string) => new KumoError('ERR_TOO_LARGE', message, { headers: { 'Retry-After': '0' } });

/** Cinder's timestamps: ISO 8601 with microseconds and no zone (oslo's isotime of a naive UTC datetime). */
export const cinderTime = (ms: number | string): string => `${new Date(ms).toISOString().replace('Z', '')}000`;
export const isoNow = (deps: Pick<ServiceDeps, 'now'>): string => new Date(deps.now()).toISOString();

/** The store-wide counter the volume controller (and consumers' agents: Nova, Zun) watch; every write moves it. */
export const VOLUME_REVISION = 'volume';
export async function markVolumeChanged(deps: Pick<ServiceDeps, 'db' | 'changes'>): Promise<void> {
  await bumpRevision(deps.db, VOLUME_REVISION);
  deps.changes.notify();
}

/**
 * Moved by the volume controller when a volume's or snapshot's status changes (observation: not
 * part of VOLUME_REVISION, which would wake the controller itself). Consumers waiting for a volume
 * to become available watch it.
 */
export const VOLUME_STATUS_REVISION = 'volume-status';
export async function markVolumeStatusChanged(deps: Pick<ServiceDeps, 'db' | 'changes'>): Promise<void> {
  await bumpRevision(deps.db, VOLUME_STATUS_REVISION);
  deps.changes.notify();
}

/** Cinder's "<is> True" boolean extra specs (multiattach). */
export const isTrueSpec = (v: string | undefined): boolean => typeof v === 'string' && /^<is>\s*true$/i.test(v.trim());

export const GIB = 1024 ** 3;
