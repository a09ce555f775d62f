/**
 * The block storage an agent drives: the only contract between the volume service and the code
 * that makes, copies and mounts volume files on a host. Everything here is plain data; no library
 * types cross it.
 *
 * A volume is one sparse raw file, `<stateDir>/volumes/<volumeId>.raw`; a snapshot is a sparse
 * copy of one, `<stateDir>/snapshots/<snapshotId>.raw`. Raw, because both consumers read it as is:
 * QEMU opens the file as a virtio-blk disk, and a container gets it through a loop device (this
 * host's kernel has no nbd, so qcow2 could not reach a container). Files are written under a
 * temporary name and renamed into place, so a crash in the middle of a create or copy leaves no
 * file under a volume's name; `list` reports only complete ones, and `removeTemporaryFiles` clears
 * what a crash left.
 *
 * A container attachment is a loop device over the volume file, an ext4 filesystem made on it the
 * first time (a volume with any filesystem signature is left as it is), mounted at
 * `<stateDir>/mounts/<attachmentId>`; the OCI runtime bind-mounts that directory into the container.
 * losetup shows only a loop device's backing file, so the driver keeps
 * `<stateDir>/mounts/<attachmentId>.json` (volume id, loop device) and a new driver instance finds
 * every mount it made again from those files, the mount table and losetup.
 *
 * Failures are KumoErrors: ERR_VALIDATION for a bad id or size, ERR_NOT_FOUND for an unknown
 * volume, snapshot or attachment, ERR_CONFLICT when a state forbids the operation (shrinking, a
 * volume mounted for a container being deleted, a file that already exists), ERR_BAD_REQUEST for a
 * source that fails its checks (size, digest, format), ERR_INTERNAL when qemu-img, losetup, mkfs or
 * mount fail (with their own message). Each method says what a failure leaves behind.
 * @module
 */

/** What a host offers for volumes. */
export interface BlockHostInfo {
  /** The directory holding volume files. */
  readonly volumeDir: string;
  /** Bytes the filesystem under volumeDir has in all, and free (statfs), for capacity reports. */
  readonly totalBytes: number;
  readonly freeBytes: number;
  readonly qemuImgVersion: string;
  /** Whether containers can mount volumes here (loop devices, mkfs.ext4 and mount present; root). */
  readonly containerMounts: boolean;
  /** Why not, when containerMounts is false. */
  readonly containerMountsReason: string | null;
  /**
   * Whether a volume mounted read-write for a container can be extended: the kernel grows a
   * mounted filesystem only for a process with CAP_SYS_RESOURCE, which a container host may not
   * grant. When false, extendVolume refuses while such a mount exists (the filesystem of a volume
   * extended while unmounted grows at its next read-write mount).
   */
  readonly containerOnlineExtend: boolean;
}

/** Where a new volume's content comes from; none: zeroes (a sparse file). */
export type VolumeSource =
  | { readonly kind: 'image'; readonly image: ImageContent }
  | { readonly kind: 'volume'; readonly volumeId: string }
  | { readonly kind: 'snapshot'; readonly snapshotId: string };

/** An image's bytes, as the image service gives them to a host. */
export interface ImageContent {
  readonly imageId: string;
  readonly format: 'qcow2' | 'raw';
  /** The image's file when this host can read it directly (the control plane's store on the same host): converted from in place. */
  readonly localPath: string | null;
  /** Otherwise its bytes are streamed from here into a temporary file first. */
  readonly open: () => AsyncIterable<Uint8Array>;
  /** Checked on the bytes streamed (not on a localPath, which the image service already checked on upload). */
  readonly check: { readonly sizeBytes?: number; readonly hash?: { readonly algorithm: 'md5' | 'sha256' | 'sha512'; readonly hex: string } };
}

export interface VolumeFile {
  readonly volumeId: string;
  readonly path: string;
  readonly format: 'raw';
  /** The size the consumer sees. */
  readonly sizeBytes: number;
  /** Bytes the sparse file actually occupies. */
  readonly allocatedBytes: number;
}

export interface SnapshotFile {
  readonly snapshotId: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly allocatedBytes: number;
}

export interface ContainerMount {
  readonly attachmentId: string;
  readonly volumeId: string;
  /** The mounted filesystem's directory on the host: what the container's bind mount takes as its source. */
  readonly hostPath: string;
  /** e.g. /dev/loop3 */
  readonly loopDevice: string;
  readonly readOnly: boolean;
}

/** The format `exportVolume` writes (Glance disk formats a VM can boot). */
export type ExportFormat = 'raw' | 'qcow2';

export interface BlockStorage {
  /** What this host offers. Rejects only when qemu-img is not installed. */
  probe(): Promise<BlockHostInfo>;

  /**
   * Makes the volume's file: `sizeBytes` of zeroes, or the source's content (converted to raw,
   * then grown to `sizeBytes`; a source larger than `sizeBytes` is ERR_BAD_REQUEST). Without
   * reading the source whole into memory. Idempotent for the same id and size when the file is
   * there (a retry after a crash). A failure leaves no file under the volume's name.
   */
  createVolume(volumeId: string, sizeBytes: number, source?: VolumeSource): Promise<VolumeFile>;

  /** The file of a complete volume, or null. */
  volume(volumeId: string): Promise<VolumeFile | null>;

  /**
   * Grows the file to `sizeBytes` (ERR_CONFLICT when smaller than now). When the volume is
   * mounted for a container, the loop device and its filesystem grow too (online); where the host
   * cannot grow a mounted filesystem (probe: containerOnlineExtend false), a volume mounted
   * read-write is ERR_CONFLICT and nothing changes. A filesystem that is not mounted read-write
   * grows at its next read-write mount. A VM's QEMU is told by the compute side (block_resize).
   * A failure leaves the file at its old or new size.
   */
  extendVolume(volumeId: string, sizeBytes: number): Promise<VolumeFile>;

  /** Removes the file; nothing when it is not there. ERR_CONFLICT while a container mount uses it. */
  deleteVolume(volumeId: string): Promise<void>;

  /**
   * A sparse copy of the volume file as it is now. Only what has reached the file is in it: a VM
   * or container writing to the volume meanwhile gives a crash-consistent copy at best, so
   * quiescing (or accepting that) is the caller's concern. A failure leaves no snapshot file.
   * Idempotent like createVolume (an existing snapshot file is returned as it is).
   */
  createSnapshot(snapshotId: string, volumeId: string): Promise<SnapshotFile>;

  /** Removes the snapshot file; nothing when it is not there. */
  deleteSnapshot(snapshotId: string): Promise<void>;

  /** Ids of the complete volume and snapshot files on this host (for reconciling with the store). */
  list(): Promise<{ readonly volumeIds: readonly string[]; readonly snapshotIds: readonly string[] }>;

  /** Removes the temporary files an interrupted create, copy or export left. */
  removeTemporaryFiles(): Promise<void>;

  /**
   * Writes the volume's content in `format` to `destPath` (for upload to an image). The caller
   * owns destPath; on failure it is removed.
   */
  exportVolume(volumeId: string, format: ExportFormat, destPath: string): Promise<{ readonly sizeBytes: number }>;

  /**
   * Mounts the volume for a container: a loop device over its file, `mkfs.ext4` when it has no
   * filesystem yet, mounted at the attachment's directory. Idempotent for the same attachment.
   * ERR_CONFLICT when another attachment has the volume mounted read-write, or, for a read-write
   * mount, mounted at all (two loop devices are two filesystems to the kernel: a reader next to a
   * writer would see blocks change under its cache); also when a read-only mount finds no
   * filesystem to mount, or the volume holds something other than a filesystem (a partition
   * table). A failure leaves no loop device, mount or record.
   */
  mountForContainer(attachmentId: string, volumeId: string, options?: { readonly readOnly?: boolean }): Promise<ContainerMount>;

  /** Unmounts and releases the loop device; nothing when the attachment has no mount. */
  unmountForContainer(attachmentId: string): Promise<void>;

  /**
   * The container mounts this driver made and still holds: every mount of a loop device over one
   * of its volume files at one of its attachment directories, found from the mount table and the
   * loop devices even when its record was never written (Kumo killed between mount and record),
   * so a reconcile can unmount what the store does not expect. On the way it tidies what a crash
   * left: records with no mount behind them are removed (rewritten when they disagree with the
   * mount), and loop devices over its volume files that no mount uses are released.
   */
  listContainerMounts(): Promise<readonly ContainerMount[]>;
}

export interface BlockStorageOptions {
  /** Owned by this driver: volumes/, snapshots/, mounts/, tmp/. */
  readonly stateDir: string;
}
