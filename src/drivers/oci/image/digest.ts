/**
 * Content digests (`sha256:<64 hex>`), the only algorithm Kumo accepts: every blob, manifest
 * and layer is named and verified by one.
 * @module
 */
import { createHash } from 'node:crypto';
import { KumoError } from '../../../errors.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/** The digest itself, or a validation error naming `what` carried it. */
export function parseDigest(value: unknown, what: string): string {
  if (isDigest(value)) return value;
  throw new KumoError('ERR_VALIDATION', `${what}: ${JSON.stringify(value)} is not a sha256 digest (sha256:<64 hex characters>)`);
}

/** The 64 hex characters: the file and directory name of a blob or an unpacked layer. */
export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
