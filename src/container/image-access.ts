/**
 * The container service's door into the image service, for Zun's `glance` image driver: a Glance
 * image whose container_format is `docker` holds a `docker save` (or OCI layout) tar, which the
 * host's image store imports.
 * @module
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { KumoError } from '../errors.js';
import { openImageData } from '../image/image-data.js';
import { findImage } from '../image/images.js';
import { invalid } from './context.js';
import type { Caller, ContainerDeps } from './context.js';

/** The Glance image (id or unique name) a container asks for; it must be an active `docker` image the caller may see. */
export async function glanceDockerImage(deps: ContainerDeps, caller: Caller, ref: string): Promise<string> {
  const image = await findImage(deps.image, caller, ref).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw invalid(`Image ${ref} could not be found in the image service.`);
    throw err;
  });
  if (image.container_format !== 'docker') throw invalid(`Image ${ref} has container format ${image.container_format}; the glance image driver needs a docker image (a docker save tar).`);
  if (image.status !== 'active') throw invalid(`Image ${ref} is ${image.status}, not active.`);
  return image.id;
}

const SYSTEM = { projectId: '', userId: '', isAdmin: true };

/** Writes the image's data (a tar) to `path` for the host's image store to import; on failure no file is left. */
export async function saveGlanceImage(deps: ContainerDeps, imageId: string, path: string): Promise<void> {
  const opened = await openImageData(deps.image, SYSTEM, imageId);
  if (!opened) throw new KumoError('ERR_BAD_REQUEST', `Image ${imageId} has no data.`);
  try {
    await pipeline(opened.stream, createWriteStream(path));
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}
