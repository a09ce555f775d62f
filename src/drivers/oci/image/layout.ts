/**
 * Where everything lives under the store's root, and how host objects carry the owner label.
 *
 * ```
 * blobs/sha256/<hex>                 verified blobs (layers as pulled, configs)
 * layers/<hex>/                      one unpacked layer per layer blob digest
 * images/<hex>.json                  one record per image (hex of its config digest)
 * images/names.json                  registry/repository:tag -> image id
 * containers/<owner>-<uuid>/         upper/, work/, rootfs/ (the mount point), rootfs.json
 * tmp/                               downloads and unpacks in progress, renamed into place when verified
 * ```
 * Everything under tmp/ is on the same file system as its destination, so the final rename is atomic.
 * @module
 */
import { join } from 'node:path';
import { KumoError } from '../../../errors.js';
import { digestHex } from './digest.js';

const OWNER = /^[a-z0-9]{1,8}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidOwner(owner: string): boolean {
  return OWNER.test(owner);
}

export function parseContainerId(id: string): string {
  if (typeof id === 'string' && UUID.test(id.toLowerCase())) return id.toLowerCase();
  throw new KumoError('ERR_VALIDATION', `container id ${JSON.stringify(id)} is not a UUID`);
}

export interface StoreLayout {
  readonly root: string;
  readonly blobsDir: string;
  readonly layersDir: string;
  readonly imagesDir: string;
  readonly namesFile: string;
  readonly containersDir: string;
  readonly tmpDir: string;
  blob(digest: string): string;
  layer(digest: string): string;
  imageRecord(id: string): string;
  /** containers/<owner>-<uuid> */
  containerDir(containerId: string): string;
  /** The container id of a containers/ entry if it is this owner's, else null. */
  parseContainerDirName(name: string): string | null;
}

export function storeLayout(root: string, owner: string): StoreLayout {
  const blobsDir = join(root, 'blobs', 'sha256');
  const layersDir = join(root, 'layers');
  const imagesDir = join(root, 'images');
  const containersDir = join(root, 'containers');
  return {
    root,
    blobsDir,
    layersDir,
    imagesDir,
    namesFile: join(imagesDir, 'names.json'),
    containersDir,
    tmpDir: join(root, 'tmp'),
    blob: (digest) => join(blobsDir, digestHex(digest)),
    layer: (digest) => join(layersDir, digestHex(digest)),
    imageRecord: (id) => join(imagesDir, `${digestHex(id)}.json`),
    containerDir: (containerId) => join(containersDir, `${owner}-${parseContainerId(containerId)}`),
    parseContainerDirName: (name) => {
      const prefix = `${owner}-`;
      if (!name.startsWith(prefix)) return null;
      const id = name.slice(prefix.length);
      return UUID.test(id) ? id : null;
    },
  };
}

/** The files inside a container's directory. */
export const CONTAINER_FILES = { upper: 'upper', work: 'work', rootfs: 'rootfs', meta: 'rootfs.json' } as const;

/** Where an image store rooted at `root` mounts container root filesystems (see ContainerRuntimeOptions.sharedMountRoots). */
export function imageStoreMountRoots(root: string): string[] {
  return [join(root, 'containers')];
}
