/**
 * The one place that knows the block storage driver implementations and creates them.
 * @module
 */
import type { Logger } from '../../log.js';
import { createFileBlockStorage, type FileBlockStorageDeps } from './linux/index.js';
import type { BlockStorage, BlockStorageOptions } from './types.js';

export type * from './types.js';
export type { FileBlockStorageDeps } from './linux/index.js';

export const BLOCK_STORAGES = {
  file: (options: BlockStorageOptions, logger: Logger, deps?: FileBlockStorageDeps): BlockStorage => createFileBlockStorage(options, logger, deps),
} as const;

export type BlockStorageKind = keyof typeof BLOCK_STORAGES;

export function createBlockStorage(kind: BlockStorageKind, options: BlockStorageOptions, logger: Logger, deps?: FileBlockStorageDeps): BlockStorage {
  return BLOCK_STORAGES[kind](options, logger, deps);
}
