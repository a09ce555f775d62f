/**
 * Image data on the control plane's filesystem: uploads streamed to a temp file while md5,
 * sha512 and the size are computed (never held in memory), then renamed into place; downloads
 * streamed from the file; glance-direct staging. The data of image `<id>` is `<imagesDir>/<id>`.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KumoError } from '../errors.js';
import { glanceError, glanceTime, imageForbidden, invalid } from './context.js';
import type { Caller, ImageDeps } from './context.js';
import { createImage, getImage, isOwnerOrAdmin, visibleRow } from './images.js';
import type { ImageFields, ImageRecord } from './images.js';

export interface ImageDataPaths {
  /** The data of an image with data (active or deactivated). */
  data: string;
  /** glance-direct: data staged and waiting for its import. */
  staged: string;
  /** The digest of the staged data, computed while it was staged. */
  stagedDigest: string;
}

export function imageDataPaths(deps: Pick<ImageDeps, 'imagesDir'>, id: string): ImageDataPaths {
  return { data: join(deps.imagesDir, id), staged: join(deps.imagesDir, 'staging', id), stagedDigest: join(deps.imagesDir, 'staging', `${id}.digest.json`) };
}

/** What an upload measured. */
interface DataDigest {
  size: number;
  checksum: string;
  os_hash_algo: 'sha512';
  os_hash_value: string;
}

const tooLarge = (cap: number) => glanceError('ERR_TOO_LARGE', `The incoming image is too large: image data may be at most ${cap} bytes.`);

/**
 * Streams `source` into `dest` through a temp file beside it, hashing as it goes; the temp file
 * is renamed to `dest` only when every byte arrived. On any failure (a client that went away, a
 * body over `cap`) the temp file is removed and nothing is left at `dest`.
 */
async function receive(source: Readable, dir: string, dest: string, cap: number): Promise<DataDigest> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.upload-${randomBytes(8).toString('hex')}`);
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > cap) return done(tooLarge(cap));
      md5.update(chunk);
      sha512.update(chunk);
      done(null, chunk);
    },
  });
  // An aborted request ends its stream without an error on some paths: notice the close.
  let aborted = false;
  const onAborted = () => { aborted = true; };
  source.once('aborted', onAborted);
  try {
    await pipeline(source, measure, createWriteStream(temp, { mode: 0o600 }));
    if (aborted || (source as { complete?: boolean }).complete === false) throw invalid('The image data upload did not complete.');
    await rename(temp, dest);
  } catch (err) {
    await rm(temp, { force: true });
    if (err instanceof KumoError) throw err;
    throw invalid(`The image data upload did not complete: ${(err as Error).message}`);
  } finally {
    source.off('aborted', onAborted);
  }
  return { size, checksum: md5.digest('hex'), os_hash_algo: 'sha512', os_hash_value: sha512.digest('hex') };
}

/** The disk's virtual size: qcow2's is in its header (bytes 24..31, big-endian); raw and iso are their size; others unknown. */
async function virtualSizeOf(file: string, diskFormat: string | null, size: number): Promise<number | null> {
  if (diskFormat === 'raw' || diskFormat === 'iso') return size;
  if (diskFormat !== 'qcow2') return null;
  const fh = await open(file, 'r');
  try {
    const header = Buffer.alloc(32);
    const { bytesRead } = await fh.read(header, 0, 32, 0);
    if (bytesRead < 32 || header.readUInt32BE(0) !== 0x514649fb) return null;
    return Number(header.readBigUInt64BE(24));
  } finally {
    await fh.close();
  }
}

/** Checks that the caller may put data into this image and that it has its formats (Glance refuses data without them). */
async function writableRow(deps: ImageDeps, caller: Caller, id: string) {
  const row = await visibleRow(deps, caller, id);
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden(`Not allowed to upload image data for image ${id}`);
  if (!row.disk_format || !row.container_format) throw invalid('Properties disk_format, container_format must be set prior to saving data.');
  return row;
}

/** queued → `to`, atomically, so two concurrent uploads cannot both start. 409 from any other status. */
async function claim(deps: ImageDeps, id: string, status: string, to: string): Promise<void> {
  const res = await deps.db.updateTable('image').set({ status: to, updated_at: glanceTime(deps.now()) })
    .where('id', '=', id).where('status', '=', 'queued').executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) throw glanceError('ERR_CONFLICT', `Image status transition from ${status} to ${to} is not allowed`);
}

/** Back to queued after a failed upload (Glance restores, so the client can try again). */
async function restoreQueued(deps: ImageDeps, id: string, from: string): Promise<void> {
  await deps.db.updateTable('image').set({ status: 'queued', updated_at: glanceTime(deps.now()) }).where('id', '=', id).where('status', '=', from).execute();
}

/** Makes an image active with the data now at its data path; if the image was deleted meanwhile, removes the data (410). */
async function activate(deps: ImageDeps, id: string, from: string, diskFormat: string | null, digest: DataDigest): Promise<void> {
  const { data } = imageDataPaths(deps, id);
  const virtual_size = await virtualSizeOf(data, diskFormat, digest.size);
  const res = await deps.db.updateTable('image').set({ status: 'active', ...digest, virtual_size, updated_at: glanceTime(deps.now()) })
    .where('id', '=', id).where('status', '=', from).executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) {
    await rm(data, { force: true });
    throw glanceError('ERR_GONE', `Image ${id} could not be found after upload. The image may have been deleted during the upload.`);
  }
}

/**
 * Streams `source` into image `id` (queued → saving → active). `length` is the declared size,
 * when known, so an oversized body is refused before it is read. On failure the image is
 * queued again and no partial file remains. For `PUT /v2/images/{id}/file` and for services
 * that upload (snapshots, volume uploads).
 */
export async function uploadImageData(deps: ImageDeps, caller: Caller, id: string, source: Readable, length?: number): Promise<void> {
  const row = await writableRow(deps, caller, id);
  const cap = deps.config.image.maxImageSizeBytes;
  if (length !== undefined && length > cap) throw tooLarge(cap);
  await claim(deps, id, row.status, 'saving');
  let digest: DataDigest;
  try {
    digest = await receive(source, deps.imagesDir, imageDataPaths(deps, id).data, cap);
  } catch (err) {
    await restoreQueued(deps, id, 'saving');
    throw err;
  }
  await activate(deps, id, 'saving', row.disk_format, digest);
  deps.logger.info({ imageId: id, size: digest.size }, 'image data uploaded');
}

/** glance-direct, step one: the data goes to the staging area (queued → uploading). */
export async function stageImageData(deps: ImageDeps, caller: Caller, id: string, source: Readable, length?: number): Promise<void> {
  const row = await visibleRow(deps, caller, id);
  if (!isOwnerOrAdmin(caller, row)) throw imageForbidden(`Not allowed to upload image data for image ${id}`);
  const cap = deps.config.image.maxImageSizeBytes;
  if (length !== undefined && length > cap) throw tooLarge(cap);
  await claim(deps, id, row.status, 'uploading');
  const paths = imageDataPaths(deps, id);
  try {
    const digest = await receive(source, join(deps.imagesDir, 'staging'), paths.staged, cap);
    await writeFile(paths.stagedDigest, JSON.stringify(digest), { mode: 0o600 });
  } catch (err) {
    await rm(paths.staged, { force: true });
    await restoreQueued(deps, id, 'uploading');
    throw err;
  }
}

/** glance-direct, step two: the staged data becomes the image's (uploading → importing → active). */
export async function importStagedData(deps: ImageDeps, caller: Caller, id: string): Promise<void> {
  const row = await writableRow(deps, caller, id);
  if (row.status !== 'uploading') throw glanceError('ERR_CONFLICT', "Image needs to be staged before 'glance-direct' method can be used");
  const res = await deps.db.updateTable('image').set({ status: 'importing', updated_at: glanceTime(deps.now()) })
    .where('id', '=', id).where('status', '=', 'uploading').executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) throw glanceError('ERR_CONFLICT', 'Image import is already in progress.');
  const paths = imageDataPaths(deps, id);
  try {
    const digest = JSON.parse(await readFile(paths.stagedDigest, 'utf8')) as DataDigest;
    await rename(paths.staged, paths.data);
    await rm(paths.stagedDigest, { force: true });
    await activate(deps, id, 'importing', row.disk_format, digest);
  } catch (err) {
    if (err instanceof KumoError) throw err;
    await restoreQueued(deps, id, 'importing');
    throw glanceError('ERR_INTERNAL', `Import of image ${id} failed: ${(err as Error).message}`);
  }
}

/** A byte range of image data, inclusive, as an HTTP Range names it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The data of an active image, as a stream (or a range of it). For `GET .../file` and for
 * hosts that copy an image (compute, volumes). `undefined` when the image has no data yet.
 * Deactivated images are readable by admins only, as in Glance.
 */
export async function openImageData(
  deps: ImageDeps, caller: Caller, id: string, rangeOf?: (size: number) => ByteRange | undefined,
): Promise<{ image: ImageRecord; stream: Readable; size: number; range: ByteRange | undefined } | undefined> {
  const image = await getImage(deps, caller, id);
  if (image.status === 'deactivated' && !caller.isAdmin) throw imageForbidden('The requested image has been deactivated. Image data download is forbidden.');
  if (image.status !== 'active' && image.status !== 'deactivated') return undefined;
  const file = imageDataPaths(deps, id).data;
  const size = (await stat(file)).size;
  const range = rangeOf?.(size);
  const stream = range ? createReadStream(file, { start: range.start, end: range.end }) : createReadStream(file);
  return { image, stream, size, range };
}

/** The path of an image's data file, for a host on this machine to copy from (after `findImage` checked visibility). */
export function imageFilePath(deps: ImageDeps, imageId: string): string {
  return imageDataPaths(deps, imageId).data;
}

/** Creates an image and fills it from a stream (snapshots, `volume upload to image`); on a failed upload the record stays queued. */
export async function createImageFromStream(deps: ImageDeps, caller: Caller, fields: ImageFields, source: Readable): Promise<ImageRecord> {
  const image = await createImage(deps, caller, fields);
  await uploadImageData(deps, caller, image.id, source);
  return getImage(deps, caller, image.id);
}

/** Creates an image from a file on this machine (the file is read, not moved). */
export async function createImageFromFile(deps: ImageDeps, caller: Caller, fields: ImageFields, sourcePath: string): Promise<ImageRecord> {
  return createImageFromStream(deps, caller, fields, createReadStream(sourcePath));
}

const UUID_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Start-up repair after a crash: uploads that were in flight are lost (their images go back to
 * `queued`, or to `uploading` when their staged data is intact), and files no image owns (temp
 * files, data of images deleted mid-way) are removed. The images directory belongs to this
 * control plane alone, so nothing else can be writing into it while it starts.
 */
export async function recoverImageStore(deps: ImageDeps): Promise<void> {
  const now = glanceTime(deps.now());
  const interrupted = await deps.db.selectFrom('image').select(['id', 'status']).where('status', 'in', ['saving', 'importing']).execute();
  for (const { id, status } of interrupted) {
    const paths = imageDataPaths(deps, id);
    const staged = status === 'importing' && (await stat(paths.staged).then(() => true, () => false)) && (await stat(paths.stagedDigest).then(() => true, () => false));
    if (!staged) {
      await rm(paths.staged, { force: true });
      await rm(paths.stagedDigest, { force: true });
    }
    await rm(paths.data, { force: true });
    await deps.db.updateTable('image').set({ status: staged ? 'uploading' : 'queued', updated_at: now }).where('id', '=', id).where('status', '=', status).execute();
  }
  const known = new Set((await deps.db.selectFrom('image').select('id').execute()).map((r) => r.id));
  for (const dir of [deps.imagesDir, join(deps.imagesDir, 'staging')]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const owner = name.replace(/\.digest\.json$/, '');
      if (name.startsWith('.upload-') || (UUID_NAME.test(owner) && !known.has(owner))) await rm(join(dir, name), { force: true });
    }
  }
  if (interrupted.length) deps.logger.warn({ images: interrupted.map((i) => i.id) }, 'image uploads interrupted by a restart were reset');
}
