/**
 * What every image-service function receives, the caller's view Glance policy needs, and
 * Glance's error helpers.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { KumoError } from '../errors.js';
import type { KumoErrorCode } from '../errors.js';
import type { ProjectCaller } from '../http/auth.js';
import type { ServiceDeps } from '../service-deps.js';

export interface ImageDeps extends ServiceDeps {
  /** Where image data lives: `<id>` files, upload temp files and the glance-direct staging area. */
  readonly imagesDir: string;
}

export type Caller = ProjectCaller;

export const newImageId = (): string => randomUUID();

export const glanceError = (code: KumoErrorCode, message: string) => new KumoError(code, message);
export const invalid = (message: string) => glanceError('ERR_VALIDATION', message);
export const imageForbidden = (message: string) => glanceError('ERR_FORBIDDEN', message);
export const imageNotFound = (id: string) => glanceError('ERR_NOT_FOUND', `No image found with ID ${id}`);

/** Glance's timestamps: ISO-8601 seconds, Z. */
export const glanceTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
/** The interoperable import methods this service has (web-download and copy-image are not there). */
export const IMPORT_METHODS = ['glance-direct'];
export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
