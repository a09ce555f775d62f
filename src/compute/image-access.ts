/**
 * The compute service's door into the image service: the image a server boots from, as plain data.
 * @module
 */
import { novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';

export interface BootImage {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly diskFormat: string | null;
  readonly containerFormat: string | null;
  readonly size: number | null;
  readonly virtualSize: number | null;
  readonly minDisk: number;
  readonly minRam: number;
  readonly checksum: string | null;
  readonly properties: Readonly<Record<string, string>>;
}

export const imageNotFound = (id: string) => novaError('ERR_VALIDATION', `Image ${id} could not be found.`);

export async function bootImage(_deps: ComputeDeps, _caller: Caller, id: string): Promise<BootImage> {
  throw novaError('ERR_NOT_FOUND', `Image ${id} could not be found.`);
}
