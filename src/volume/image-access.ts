/**
 * The volume service's door into the image service: the image a volume is made from (checked at
 * create, its bytes for the host's BlockStorage) and volumes uploaded back as images.
 * @module
 */
import { createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { KumoError } from '../errors.js';
import type { ImageContent } from '../drivers/block/types.js';
import { imageFilePath, openImageData, uploadImageData } from '../image/image-data.js';
import { createImage, deleteImage, getImage } from '../image/images.js';
import type { ImageRecord } from '../image/images.js';
import { cinderError } from './context.js';
import type { Caller, VolumeDeps } from './context.js';

/** Hosts read images whatever their visibility: the volume's owner could see it at create. */
const SYSTEM = { projectId: '', userId: '', isAdmin: true };

export interface VolumeImage {
  readonly id: string;
  readonly name: string | null;
  readonly status: string;
  readonly sizeBytes: number;
  readonly virtualSizeBytes: number | null;
  readonly minDisk: number;
  /** What volume_image_metadata shows (Cinder copies the image's core attributes and properties). */
  readonly metadata: Record<string, string>;
}

const badImage = () => cinderError('ERR_BAD_REQUEST', 'Invalid image identifier or unable to access requested image.');

const diskFormat = (r: ImageRecord): 'qcow2' | 'raw' => {
  if (r.disk_format === 'qcow2') return 'qcow2';
  if (r.disk_format === 'raw' || r.disk_format === 'ami') return 'raw';
  throw cinderError('ERR_BAD_REQUEST', `Image ${r.id} has disk format ${String(r.disk_format)}; volumes are made from qcow2 or raw images.`);
};

/** The image a volume create names, as the caller sees it; 400 like Cinder when it is not usable. */
export async function volumeImage(deps: VolumeDeps, caller: Caller, imageId: string): Promise<VolumeImage> {
  const r = await getImage(deps.image, caller, imageId).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw badImage();
    throw err;
  });
  if (r.status !== 'active') throw cinderError('ERR_BAD_REQUEST', `Image ${imageId} is not active.`);
  diskFormat(r);
  const metadata: Record<string, string> = {
    image_id: r.id, image_name: r.name ?? '', checksum: r.checksum ?? '', container_format: r.container_format ?? '', disk_format: r.disk_format ?? '',
    min_disk: String(r.min_disk ?? 0), min_ram: String(r.min_ram ?? 0), size: String(r.size ?? 0), ...r.properties,
  };
  return { id: r.id, name: r.name, status: r.status, sizeBytes: r.size ?? 0, virtualSizeBytes: r.virtual_size, minDisk: r.min_disk ?? 0, metadata };
}

/** The image's bytes for the host: its file in place when this host can read the image store. */
export async function imageContent(deps: VolumeDeps, imageId: string): Promise<ImageContent> {
  const r = await getImage(deps.image, SYSTEM, imageId).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw cinderError('ERR_BAD_REQUEST', `Image ${imageId} could not be found.`);
    throw err;
  });
  const path = imageFilePath(deps.image, imageId);
  const readable = await access(path, constants.R_OK).then(() => true, () => false);
  const algorithm = r.os_hash_algo === 'sha512' || r.os_hash_algo === 'sha256' ? r.os_hash_algo : undefined;
  return {
    imageId,
    format: diskFormat(r),
    localPath: readable ? path : null,
    open: async function* () {
      const opened = await openImageData(deps.image, SYSTEM, imageId);
      if (!opened) throw cinderError('ERR_BAD_REQUEST', `Image ${imageId} has no data.`);
      yield* opened.stream as AsyncIterable<Uint8Array>;
    },
    check: { sizeBytes: r.size ?? undefined, hash: algorithm && r.os_hash_value ? { algorithm, hex: r.os_hash_value } : undefined },
  };
}

/** `os-volume_upload_image`: a queued image of the caller's that the volume's host fills. */
export async function createUploadImage(deps: VolumeDeps, caller: Caller, fields: { name: string; diskFormat: 'raw' | 'qcow2'; containerFormat: string; visibility: string; protected: boolean; properties: Record<string, string> }) {
  return createImage(deps.image, caller, {
    name: fields.name, disk_format: fields.diskFormat, container_format: fields.containerFormat,
    visibility: fields.visibility as 'private', protected: fields.protected, properties: fields.properties,
  });
}

/** Fills an upload image from a file the host exported; the file is read, not moved. */
export async function uploadImageFile(deps: VolumeDeps, imageId: string, file: string): Promise<void> {
  const { size } = await stat(file);
  await uploadImageData(deps.image, SYSTEM, imageId, createReadStream(file), size);
}

/** An upload that failed: its image goes, as Cinder deletes the image of a failed upload. */
export async function discardUploadImage(deps: VolumeDeps, imageId: string): Promise<void> {
  await deleteImage(deps.image, SYSTEM, imageId).catch(() => undefined);
}
