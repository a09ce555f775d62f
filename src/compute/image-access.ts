/**
 * The compute service's door into the image service: the image a server boots from as plain
 * data, its bytes for a host's image cache, and snapshots back into it.
 * @module
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { KumoError } from '../errors.js';
import { openImageData, uploadImageData } from '../image/image-data.js';
import { createImage, deleteImage, getImage } from '../image/images.js';
import type { ImageRecord } from '../image/images.js';
import { invalid, novaError } from './context.js';
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

export const imageNotFound = (id: string) => invalid(`Image ${id} could not be found.`);

const bootImageOf = (r: ImageRecord): BootImage => ({
  id: r.id, name: r.name ?? '', status: r.status, diskFormat: r.disk_format, containerFormat: r.container_format, size: r.size, virtualSize: r.virtual_size,
  minDisk: r.min_disk ?? 0, minRam: r.min_ram ?? 0, checksum: r.checksum, properties: r.properties,
});

/** The image by id, as the caller may see it (Nova takes ids; clients resolve names). */
export async function bootImage(deps: ComputeDeps, caller: Caller, id: string): Promise<BootImage> {
  return bootImageOf(await getImage(deps.image, caller, id));
}

/** Hosts read images whatever their visibility: the server's owner could see it when the server was made. */
const SYSTEM: Caller = { projectId: '', userId: '', isAdmin: true, requestId: 'compute-agent' };

export interface ImageSource {
  readonly imageId: string;
  readonly format: 'qcow2' | 'raw';
  readonly check: { readonly sizeBytes?: number; readonly hash?: { readonly algorithm: 'md5' | 'sha256' | 'sha512'; readonly hex: string } };
  /** Opens the image's bytes (only when the host's cache lacks it). */
  readonly open: () => AsyncIterable<Uint8Array>;
  /** Glance's kernel_id / ramdisk_id / os_command_line properties: a direct kernel boot (AMI-style images). */
  readonly kernelId: string | null;
  readonly ramdiskId: string | null;
  readonly cmdline: string | null;
}

/** QEMU reads qcow2 and raw; AMI/AKI/ARI images are raw disks, kernels and ramdisks. */
function hostFormat(image: ImageRecord): 'qcow2' | 'raw' {
  if (image.disk_format === 'qcow2') return 'qcow2';
  if (image.disk_format === 'raw' || image.disk_format === 'ami' || image.disk_format === 'aki' || image.disk_format === 'ari') return 'raw';
  throw new KumoError('ERR_BAD_REQUEST', `Image ${image.id} has disk format ${image.disk_format}, which this hypervisor does not boot (qcow2, raw, ami/aki/ari).`);
}

export async function imageSource(deps: ComputeDeps, imageId: string): Promise<ImageSource> {
  const image = await getImage(deps.image, SYSTEM, imageId).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw novaError('ERR_BAD_REQUEST', `Image ${imageId} could not be found.`);
    throw err;
  });
  if (image.status !== 'active') throw novaError('ERR_BAD_REQUEST', `Image ${imageId} is ${image.status}, not active.`);
  const algorithm = image.os_hash_algo === 'sha512' || image.os_hash_algo === 'sha256' ? image.os_hash_algo : undefined;
  return {
    imageId,
    format: hostFormat(image),
    check: { sizeBytes: image.size ?? undefined, hash: algorithm && image.os_hash_value ? { algorithm, hex: image.os_hash_value } : undefined },
    open: async function* () {
      const opened = await openImageData(deps.image, SYSTEM, imageId);
      if (!opened) throw novaError('ERR_BAD_REQUEST', `Image ${imageId} has no data.`);
      yield* opened.stream as AsyncIterable<Uint8Array>;
    },
    kernelId: image.properties.kernel_id || null,
    ramdiskId: image.properties.ramdisk_id || null,
    cmdline: image.properties.os_command_line || null,
  };
}

/**
 * `server image create`: a queued private qcow2 image of the caller's, with Nova's snapshot
 * properties (the caller's metadata may override them, as in Nova) and the minimum RAM and disk of
 * the image the server was built from; the agent uploads its data.
 */
export async function createSnapshotImage(deps: ComputeDeps, caller: Caller, server: { uuid: string; image_id: string | null; user_id: string }, name: string, metadata: Record<string, string>): Promise<string> {
  const base = server.image_id ? await getImage(deps.image, SYSTEM, server.image_id).catch(() => null) : null;
  const image = await createImage(deps.image, caller, {
    name, disk_format: 'qcow2', container_format: 'bare', visibility: 'private', min_ram: base?.min_ram ?? 0, min_disk: base?.min_disk ?? 0,
    properties: { image_type: 'snapshot', instance_uuid: server.uuid, base_image_ref: server.image_id ?? '', user_id: server.user_id, ...metadata },
  });
  return image.id;
}

/** Fills a snapshot image from a file on this host; the file is read, not moved. */
export async function uploadSnapshot(deps: ComputeDeps, imageId: string, file: string): Promise<void> {
  const { size } = await stat(file);
  await uploadImageData(deps.image, SYSTEM, imageId, createReadStream(file), size);
}

/** A snapshot that failed: its image goes, as Nova deletes the image of a failed snapshot. */
export async function discardSnapshotImage(deps: ComputeDeps, imageId: string): Promise<void> {
  await deleteImage(deps.image, SYSTEM, imageId).catch(() => undefined);
}
