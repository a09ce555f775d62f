/**
 * The OCI image store: distribution client, verified blobs, unpacked layers, overlay root
 * filesystems. `createImageStore` is the one entry point.
 * @module
 */
export { createImageStore, type ImageStoreDeps } from './store.js';
export type { ImageStore, ImageStoreOptions, PullOptions, StoredImage, ImageRuntimeConfig } from '../types.js';
export { imageStoreMountRoots } from './layout.js';
