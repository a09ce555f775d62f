/**
 * A recording, in-memory BlockStorage for API tests of the volume service (the product runs the
 * real driver; its own tests run it on Linux). Keeps sizes, snapshots and mounts; records calls.
 */
import { writeFile } from 'node:fs/promises';
import { KumoError } from '../../src/errors.js';
import type { BlockStorage, ContainerMount, VolumeFile } from '../../src/drivers/block/types.js';

export interface FakeBlockStorage extends BlockStorage {
  readonly calls: string[];
  readonly volumes: Map<string, number>;
  readonly snapshots: Map<string, number>;
  readonly mounts: Map<string, ContainerMount>;
  /** Makes the next createVolume fail with this message. */
  failNextCreate(message: string): void;
}

export function fakeBlockStorage(): FakeBlockStorage {
  const calls: string[] = [];
  const volumes = new Map<string, number>();
  const snapshots = new Map<string, number>();
  const mounts = new Map<string, ContainerMount>();
  let failure: string | null = null;
  const file = (id: string): VolumeFile => ({ volumeId: id, path: `/fake/volumes/${id}.raw`, format: 'raw', sizeBytes: volumes.get(id)!, allocatedBytes: 0 });
  return {
    calls, volumes, snapshots, mounts,
    failNextCreate(message) {
      failure = message;
    },
    async probe() {
      return { volumeDir: '/fake/volumes', totalBytes: 100 * 1024 ** 3, freeBytes: 80 * 1024 ** 3, qemuImgVersion: '7.2.0', containerMounts: true, containerMountsReason: null, containerOnlineExtend: true };
    },
    async createVolume(id, sizeBytes, source) {
      calls.push(`createVolume ${id} ${sizeBytes}${source ? ` ${source.kind}:${source.kind === 'image' ? source.image.imageId : source.kind === 'volume' ? source.volumeId : source.snapshotId}` : ''}`);
      if (failure) {
        const m = failure;
        failure = null;
        throw new KumoError('ERR_INTERNAL', m);
      }
      if (source?.kind === 'snapshot' && !snapshots.has(source.snapshotId)) throw new KumoError('ERR_NOT_FOUND', `no snapshot ${source.snapshotId}`);
      volumes.set(id, sizeBytes);
      return file(id);
    },
    async volume(id) {
      return volumes.has(id) ? file(id) : null;
    },
    async extendVolume(id, sizeBytes) {
      calls.push(`extendVolume ${id} ${sizeBytes}`);
      const now = volumes.get(id);
      if (now === undefined) throw new KumoError('ERR_NOT_FOUND', `no volume ${id}`);
      if (sizeBytes < now) throw new KumoError('ERR_CONFLICT', 'shrinking');
      volumes.set(id, sizeBytes);
      return file(id);
    },
    async deleteVolume(id) {
      calls.push(`deleteVolume ${id}`);
      if ([...mounts.values()].some((m) => m.volumeId === id)) throw new KumoError('ERR_CONFLICT', `volume ${id} is mounted`);
      volumes.delete(id);
    },
    async createSnapshot(id, volumeId) {
      calls.push(`createSnapshot ${id} ${volumeId}`);
      const size = volumes.get(volumeId);
      if (size === undefined) throw new KumoError('ERR_NOT_FOUND', `no volume ${volumeId}`);
      snapshots.set(id, size);
      return { snapshotId: id, path: `/fake/snapshots/${id}.raw`, sizeBytes: size, allocatedBytes: 0 };
    },
    async deleteSnapshot(id) {
      calls.push(`deleteSnapshot ${id}`);
      snapshots.delete(id);
    },
    async list() {
      return { volumeIds: [...volumes.keys()], snapshotIds: [...snapshots.keys()] };
    },
    async removeTemporaryFiles() {
      calls.push('removeTemporaryFiles');
    },
    async exportVolume(id, format, destPath) {
      calls.push(`exportVolume ${id} ${format}`);
      if (!volumes.has(id)) throw new KumoError('ERR_NOT_FOUND', `no volume ${id}`);
      await writeFile(destPath, Buffer.alloc(4096, 3));
      return { sizeBytes: 4096 };
    },
    async mountForContainer(attachmentId, volumeId, options) {
      calls.push(`mount ${attachmentId} ${volumeId}`);
      const m: ContainerMount = { attachmentId, volumeId, hostPath: `/fake/mounts/${attachmentId}`, loopDevice: '/dev/loop9', readOnly: !!options?.readOnly };
      mounts.set(attachmentId, m);
      return m;
    },
    async unmountForContainer(attachmentId) {
      calls.push(`unmount ${attachmentId}`);
      mounts.delete(attachmentId);
    },
    async listContainerMounts() {
      return [...mounts.values()];
    },
  };
}
