/**
 * The file block storage on Linux: sparse raw volume files, loop devices and ext4 for containers.
 * @module
 */
export { createFileBlockStorage, type FileBlockStorageDeps } from './driver.js';
export { blockPaths, isBlockId, mountDir, snapshotFile, volumeFile } from './argv.js';
