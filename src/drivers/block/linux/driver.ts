/**
 * The file block storage: each volume a sparse raw file under the driver's state dir, snapshots
 * sparse copies of them, container mounts loop devices with a filesystem mounted at an attachment
 * dir (see ../types.ts for the contract and the layout).
 *
 * Nothing is kept in memory that a new instance could not read back from the state dir, the
 * mount table and /sys/block: complete files have their final names (everything is made under
 * tmp/ and renamed), and a container mount is found again from the mount table even when Kumo
 * was killed before its record was written. What the instance does keep is which operations are
 * running, so that a reconcile never takes a half-made mount's loop device for a leftover.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat, statfs, truncate } from 'node:fs/promises';
import path from 'node:path';
import { KumoError } from '../../../errors.js';
import { writeCheckedStream } from '../../../lib/checked-stream.js';
import { createCommandRunner, type CommandResult, type CommandRunner } from '../../../lib/command-runner.js';
import { findBinary } from '../../../lib/find-binary.js';
import { keyedMutex } from '../../../lib/keyed-mutex.js';
import { parseMountInfo } from '../../../lib/mountinfo.js';
import { checkQcow2Image, qemuImgConvertArgv, qemuImgInfo, type QemuImgInfo } from '../../../lib/qemu-img.js';
import type { Logger } from '../../../log.js';
import type {
  BlockHostInfo, BlockStorage, BlockStorageOptions, ContainerMount, ExportFormat, ImageContent, SnapshotFile, VolumeFile, VolumeSource,
} from '../types.js';
import {
  blkidProbeArgv, blockPaths, e2fsckArgv, EXT_FS_TYPES, idOfRawFile, isBlockId, loopAttachArgv, loopDetachArgv, loopRefreshArgv, mkfsArgv,
  MOUNTABLE_FS_TYPES, mountArgv, mountDir, mountRecordFile, resize2fsArgv, snapshotFile, sparseCopyArgv, umountArgv, volumeFile,
} from './argv.js';
import {
  CAP_SYS_RESOURCE, deviceContent, hasEffectiveCapability, readLoopDevices, readMountRecords, reconcileMounts, writeMountRecord, type LoopDevice, type MountRecord, type MountState,
} from './host-state.js';

export interface FileBlockStorageDeps {
  readonly run?: CommandRunner;
  /** Where the loop devices are listed (default /sys/block); a test points it at a fake tree. */
  readonly sysBlockDir?: string;
  /** The mount table (default: /proc/self/mountinfo). */
  readonly readMountInfo?: () => Promise<string>;
  /** Whether mounted filesystems can be grown (default: whether this process has CAP_SYS_RESOURCE). */
  readonly onlineResize?: boolean;
  /** Whether volumes are written with O_DIRECT (default: whether the volume dir's filesystem takes it). */
  readonly directIo?: boolean;
}

/** Copies and conversions of big files: bounded only so that a hung tool does not hold a volume forever. */
const LONG_MS = 6 * 60 * 60 * 1000;
/** mkfs (lazy), e2fsck and resize2fs of a large filesystem. */
const FS_MS = 30 * 60 * 1000;
const SECTOR = 512;
/** Local images whose qemu-img info is kept. */
const IMAGE_INFOS_KEPT = 64;

/** The tools container mounts need, by Debian package. */
const MOUNT_TOOLS: readonly (readonly [string, string])[] = [
  ['losetup', 'mount'], ['mount', 'mount'], ['umount', 'mount'], ['blkid', 'util-linux'], ['mkfs.ext4', 'e2fsprogs'], ['resize2fs', 'e2fsprogs'], ['e2fsck', 'e2fsprogs'],
];

function checkId(id: string, what: string): void {
  if (!isBlockId(id)) throw new KumoError('ERR_VALIDATION', `${what} id ${JSON.stringify(id)} must be 1-128 of [A-Za-z0-9_-], starting with a letter or digit`);
}

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % SECTOR !== 0) {
    throw new KumoError('ERR_VALIDATION', `volume size ${sizeBytes} must be a positive whole number of ${SECTOR}-byte sectors`);
  }
}

function checkSource(source: VolumeSource | undefined): void {
  if (!source) return;
  if (source.kind === 'volume') checkId(source.volumeId, 'source volume');
  else if (source.kind === 'snapshot') checkId(source.snapshotId, 'source snapshot');
  else if (source.kind === 'image') {
    if (source.image.format !== 'qcow2' && source.image.format !== 'raw') throw new KumoError('ERR_VALIDATION', `image format ${String(source.image.format)} is not qcow2 or raw`);
    if (source.image.localPath && !path.isAbsolute(source.image.localPath)) throw new KumoError('ERR_VALIDATION', 'an image localPath must be absolute');
  } else throw new KumoError('ERR_VALIDATION', `unknown volume source ${JSON.stringify((source as { kind: unknown }).kind)}`);
}

async function sizes(file: string): Promise<{ sizeBytes: number; allocatedBytes: number } | null> {
  try {
    const st = await stat(file);
    return { sizeBytes: st.size, allocatedBytes: st.blocks * 512 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A new file of `sizeBytes` with nothing allocated: it reads as zeroes. */
async function makeSparseFile(file: string, sizeBytes: number): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }
}

/** Data of a file made under a temporary name reaches the disk before the rename publishes it. */
async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export function createFileBlockStorage(options: BlockStorageOptions, logger: Logger, deps: FileBlockStorageDeps = {}): BlockStorage {
  const p = blockPaths(options.stateDir);
  const runner = deps.run ?? createCommandRunner();
  const log = logger.child({ driver: 'block-file' });
  const withLock = keyedMutex();
  const readMountInfo = deps.readMountInfo ?? (() => readFile('/proc/self/mountinfo', 'utf8'));
  /** Temporary files operations of this instance are writing: removeTemporaryFiles leaves them. */
  const activeTemps = new Set<string>();
  /** Container mount operations running (losetup, mount, umount, ...): while any is, no loop device is taken for a leftover. */
  let mountOps = 0;

  /**
   * The kernel grows a mounted ext4 only for a process with CAP_SYS_RESOURCE, which a container
   * host may withhold (this CI host's bounding set does). Without it, a mounted volume is not
   * extended and its filesystem grows offline at its next read-write mount instead.
   */
  let onlineResize: Promise<boolean> | null = deps.onlineResize === undefined ? null : Promise.resolve(deps.onlineResize);
  const canResizeOnline = () => (onlineResize ??= readFile('/proc/self/status', 'utf8').then((t) => hasEffectiveCapability(t, CAP_SYS_RESOURCE), () => false));

  /** Host tools by absolute path when found (root's sbin dirs may be missing from PATH). */
  const binaries = new Map<string, string>();
  const bin = (name: string) => {
    let found = binaries.get(name);
    if (!found) {
      found = findBinary(name) ?? name;
      binaries.set(name, found);
    }
    return found;
  };

  async function exec(argv: readonly string[], timeoutMs?: number): Promise<CommandResult> {
    try {
      return await runner.run([bin(argv[0]), ...argv.slice(1)], { timeoutMs });
    } catch (err) {
      throw new KumoError('ERR_INTERNAL', `${argv[0]} could not be started: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Runs a tool that must succeed; its own message becomes the error's. */
  async function must(argv: readonly string[], what: string, timeoutMs?: number): Promise<CommandResult> {
    const r = await exec(argv, timeoutMs);
    if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `${what}: ${argv[0]} failed: ${r.stderr.trim() || `exit status ${r.code}`}`);
    return r;
  }

  async function ensureDirs(): Promise<void> {
    for (const dir of [p.volumes, p.snapshots, p.mounts, p.tmp]) await mkdir(dir, { recursive: true, mode: 0o700 });
  }

  /** A fresh name under tmp/ (the caller removes it; removeTemporaryFiles leaves it meanwhile). */
  function tempFile(label: string): string {
    const file = path.join(p.tmp, `${label}.${randomBytes(4).toString('hex')}`);
    activeTemps.add(file);
    return file;
  }

  async function dropTemp(file: string): Promise<void> {
    await rm(file, { force: true });
    activeTemps.delete(file);
  }

  async function volumeInfo(volumeId: string): Promise<VolumeFile | null> {
    const file = volumeFile(p, volumeId);
    const s = await sizes(file);
    return s && { volumeId, path: file, format: 'raw', ...s };
  }

  async function snapshotInfo(snapshotId: string): Promise<SnapshotFile | null> {
    const file = snapshotFile(p, snapshotId);
    const s = await sizes(file);
    return s && { snapshotId, path: file, ...s };
  }

  async function requireVolume(volumeId: string): Promise<VolumeFile> {
    const v = await volumeInfo(volumeId);
    if (!v) throw new KumoError('ERR_NOT_FOUND', `volume ${volumeId} has no file on this host`);
    return v;
  }

  /** Writes a source whose content is raw already into `tmp` by a sparse copy. */
  async function copyRaw(source: string, tmp: string, what: string): Promise<void> {
    await must(sparseCopyArgv(source, tmp), `copying ${what}`, LONG_MS);
  }

  /**
   * Whether the volume dir's filesystem takes O_DIRECT (tmpfs before Linux 6.6, for one, refuses it): conversions
   * then write volumes past the page cache, which they must reach the disk from anyway.
   */
  let directIo: Promise<boolean> | null = deps.directIo === undefined ? null : Promise.resolve(deps.directIo);
  const canWriteDirect = () => (directIo ??= (async () => {
    await ensureDirs();
    const probe = tempFile('direct-io');
    try {
      await (await open(probe, fsConstants.O_CREAT | fsConstants.O_WRONLY | fsConstants.O_DIRECT, 0o600)).close();
      return true;
    } catch (err) {
      log.info({ dir: p.tmp, err: (err as Error).message }, 'the volume dir takes no O_DIRECT; conversions go through the page cache');
      return false;
    } finally {
      await dropTemp(probe);
    }
  })());

  /**
   * Converts a qcow2 file into `tmp` (not existing yet) as a raw file of `sizeBytes`. Returns
   * whether that file is on the disk already: written with O_DIRECT into a file made at its size,
   * it was flushed by qemu-img before it exited.
   */
  async function convertToRaw(source: string, tmp: string, sizeBytes: number, what: string): Promise<boolean> {
    const directTarget = await canWriteDirect();
    if (directTarget) await makeSparseFile(tmp, sizeBytes);
    await must(qemuImgConvertArgv({ source, sourceFormat: 'qcow2', target: tmp, targetFormat: 'raw', directTarget, intoZeroedTarget: directTarget }), `converting ${what}`, LONG_MS);
    return directTarget;
  }

  /**
   * qemu-img info of local image files, by path. Many volumes are made from one image, and an
   * image's file does not change once stored; the file's identity guards against a replaced one.
   */
  const imageInfos = new Map<string, { readonly stamp: string; readonly info: QemuImgInfo }>();
  async function localImageInfo(file: string, format: 'raw' | 'qcow2'): Promise<QemuImgInfo> {
    const st = await stat(file);
    const stamp = `${format}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const known = imageInfos.get(file);
    if (known?.stamp === stamp) return known.info;
    const info = await qemuImgInfo(runner, file, { format });
    if (imageInfos.size >= IMAGE_INFOS_KEPT) imageInfos.delete(imageInfos.keys().next().value!);
    imageInfos.set(file, { stamp, info });
    return info;
  }

  function tooBig(what: string, bytes: number, sizeBytes: number): KumoError {
    return new KumoError('ERR_BAD_REQUEST', `${what} is ${bytes} bytes, more than the volume's ${sizeBytes}`);
  }

  /**
   * Fills `tmp` (not existing yet) with the image's content as raw. Returns whether it is a file
   * of `sizeBytes` on the disk already (else the caller grows it and flushes it).
   */
  async function fillFromImage(image: ImageContent, tmp: string, sizeBytes: number): Promise<boolean> {
    const what = `image ${image.imageId}`;
    if (image.localPath) {
      // Checked by the image service on upload; only what a conversion needs is read here.
      const info = await localImageInfo(image.localPath, image.format);
      if (image.format === 'qcow2' && info.backing) throw new KumoError('ERR_BAD_REQUEST', `${what}: a qcow2 image with a backing file is refused`);
      if (info.virtualSize > sizeBytes) throw tooBig(what, info.virtualSize, sizeBytes);
      if (image.format === 'qcow2') return convertToRaw(image.localPath, tmp, sizeBytes, what);
      await copyRaw(image.localPath, tmp, what);
      return false;
    }
    if (image.format === 'raw') {
      // A raw image is the volume's content as it is: streamed straight into the volume's file, holes and all.
      await writeCheckedStream(tmp, image.open(), image.check, what, { limitBytes: sizeBytes });
      return false;
    }
    const download = tempFile(`image-${image.imageId}.qcow2`);
    try {
      await writeCheckedStream(download, image.open(), image.check, what);
      const info = await checkQcow2Image(runner, download, what);
      if (info.virtualSize > sizeBytes) throw tooBig(what, info.virtualSize, sizeBytes);
      return await convertToRaw(download, tmp, sizeBytes, what);
    } finally {
      await dropTemp(download);
    }
  }

  /** Makes `tmp` the volume's file; returns whether it is on the disk already. */
  async function fill(tmp: string, sizeBytes: number, source: VolumeSource | undefined): Promise<boolean> {
    if (source?.kind === 'image') {
      if (await fillFromImage(source.image, tmp, sizeBytes)) return true;
    } else if (source) {
      const [file, what] = source.kind === 'volume'
        ? [volumeFile(p, source.volumeId), `volume ${source.volumeId}`]
        : [snapshotFile(p, source.snapshotId), `snapshot ${source.snapshotId}`];
      const s = await sizes(file);
      if (!s) throw new KumoError('ERR_NOT_FOUND', `${what} has no file on this host`);
      if (s.sizeBytes > sizeBytes) throw tooBig(what, s.sizeBytes, sizeBytes);
      await copyRaw(file, tmp, what);
    } else {
      // Zeroes: a file of that length with nothing allocated; no process needed.
      await makeSparseFile(tmp, sizeBytes);
      return false;
    }
    await truncate(tmp, sizeBytes);
    return false;
  }

  /**
   * Makes `target` from `make(tmp)` under tmp/, so that the target's name appears only complete;
   * an existing target is kept (the retry of a create that had finished). `make` returns true
   * when what it wrote is on the disk already.
   */
  async function publish(target: string, label: string, make: (tmp: string) => Promise<boolean | void>): Promise<void> {
    await ensureDirs();
    const tmp = tempFile(label);
    try {
      if (!(await make(tmp))) await syncFile(tmp);
      await rename(tmp, target);
    } finally {
      await dropTemp(tmp);
    }
  }

  async function observeMounts(): Promise<MountState & { readonly records: ReadonlyMap<string, MountRecord | null> }> {
    const [records, mountInfo, loops] = await Promise.all([readMountRecords(p), readMountInfo(), readLoopDevices(deps.sysBlockDir)]);
    return { ...reconcileMounts(p, records, parseMountInfo(mountInfo), loops), records };
  }

  /** Frees a loop device only if it is still bound to that file (its number may have gone to someone else meanwhile). */
  async function detachLoop(loop: LoopDevice): Promise<void> {
    const now = (await readLoopDevices(deps.sysBlockDir)).find((l) => l.device === loop.device);
    if (!now || now.backingFile !== loop.backingFile) return;
    await must(loopDetachArgv(loop.device), `releasing ${loop.device}`);
  }

  /** Removes an attachment's dir (rmdir: never a recursive removal, which would empty a volume still mounted there) and record. */
  async function removeAttachmentFiles(attachmentId: string): Promise<void> {
    await rmdir(mountDir(p, attachmentId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') log.warn({ attachmentId, err: err.message }, 'attachment dir not removed');
    });
    await rm(mountRecordFile(p, attachmentId), { force: true });
  }

  async function tracked<T>(fn: () => Promise<T>): Promise<T> {
    mountOps++;
    try {
      return await fn();
    } finally {
      mountOps--;
    }
  }

  async function unmount(mount: ContainerMount): Promise<void> {
    const r = await exec(umountArgv(mount.hostPath));
    if (r.code !== 0) {
      // Busy: a process (not the container's bind mount, which is a mount of its own) has a file
      // open or its working directory in there. Detached now, the filesystem goes when it does,
      // and the loop device with it (the detach below then only marks it to be freed).
      if (!/busy/i.test(r.stderr)) throw new KumoError('ERR_INTERNAL', `unmounting ${mount.hostPath}: umount failed: ${r.stderr.trim()}`);
      log.warn({ attachmentId: mount.attachmentId, stderr: r.stderr.trim() }, 'volume mount busy; detaching it lazily');
      await must(umountArgv(mount.hostPath, true), `unmounting ${mount.hostPath}`);
    }
    await detachLoop({ device: mount.loopDevice, backingFile: volumeFile(p, mount.volumeId), deleted: false, readOnly: mount.readOnly });
  }

  /** What a loop device holds; mkfs when nothing (rw only). Returns the filesystem type to mount. */
  async function prepareFilesystem(device: string, volumeId: string, readOnly: boolean): Promise<{ fsType: string; made: boolean }> {
    const probe = await exec(blkidProbeArgv(device));
    const content = deviceContent(probe.code, probe.stdout);
    if (!content) throw new KumoError('ERR_INTERNAL', `probing volume ${volumeId}: blkid failed: ${probe.stderr.trim() || `exit status ${probe.code}`}`);
    if (content.kind === 'other') throw new KumoError('ERR_CONFLICT', `volume ${volumeId} holds ${content.what}, not a filesystem a container can mount`);
    if (content.kind === 'filesystem') {
      if (!MOUNTABLE_FS_TYPES.has(content.fsType)) throw new KumoError('ERR_CONFLICT', `volume ${volumeId} holds a ${content.fsType} filesystem; containers mount ${[...MOUNTABLE_FS_TYPES].join(', ')}`);
      return { fsType: content.fsType, made: false };
    }
    if (readOnly) throw new KumoError('ERR_CONFLICT', `volume ${volumeId} has no filesystem yet; its first mount must be read-write`);
    await must(mkfsArgv(device), `making a filesystem on volume ${volumeId}`, FS_MS);
    return { fsType: 'ext4', made: true };
  }

  /**
   * Grows an unmounted ext filesystem to its device, which is larger when the volume was extended
   * since its last mount (nothing to do otherwise). Offline: needs no capability beyond root. Not
   * fatal: the filesystem is usable at its old size.
   */
  async function growOffline(device: string, volumeId: string): Promise<void> {
    let r = await exec(resize2fsArgv(device), FS_MS);
    if (r.code !== 0 && /e2fsck/.test(r.stderr + r.stdout)) {
      // Not cleanly unmounted (Kumo or the host died while it was mounted): the check replays its journal first.
      const checked = await exec(e2fsckArgv(device), FS_MS);
      // 1: errors corrected; anything above: left to an administrator.
      if (checked.code <= 1) r = await exec(resize2fsArgv(device), FS_MS);
    }
    if (r.code !== 0) log.warn({ volumeId, stderr: r.stderr.trim() }, 'the volume filesystem could not be grown to the volume size');
  }

  async function mountForContainer(attachmentId: string, volumeId: string, readOnly: boolean): Promise<ContainerMount> {
    const file = volumeFile(p, volumeId);
    if (!existsSync(file)) throw new KumoError('ERR_NOT_FOUND', `volume ${volumeId} has no file on this host`);
    const state = await observeMounts();
    const mine = state.live.find((m) => m.attachmentId === attachmentId);
    if (mine) {
      if (mine.volumeId !== volumeId || mine.readOnly !== readOnly) {
        throw new KumoError('ERR_CONFLICT', `attachment ${attachmentId} already mounts volume ${mine.volumeId}${mine.readOnly ? ' read-only' : ''}`);
      }
      if (state.unrecorded.includes(mine)) await writeMountRecord(p, mine);
      return mine;
    }
    const others = state.live.filter((m) => m.volumeId === volumeId);
    // Two mounts of one filesystem through two loop devices are two filesystems to the kernel:
    // next to a writer, another mount (even read-only) would read blocks changing under its cache.
    if (others.length > 0 && (!readOnly || others.some((m) => !m.readOnly))) {
      throw new KumoError('ERR_CONFLICT', `volume ${volumeId} is mounted ${others.some((m) => !m.readOnly) ? 'read-write' : 'read-only'} for attachment ${others[0].attachmentId}`);
    }
    if (state.staleRecords.includes(attachmentId)) await removeAttachmentFiles(attachmentId);
    await ensureDirs();
    const dir = mountDir(p, attachmentId);
    const made = { loop: null as string | null, dir: false, mounted: false };
    try {
      made.loop = (await must(loopAttachArgv(file, readOnly), `attaching volume ${volumeId} to a loop device`)).stdout.trim();
      if (!/^\/dev\/loop\d+$/.test(made.loop)) throw new KumoError('ERR_INTERNAL', `losetup printed ${JSON.stringify(made.loop)}, not a loop device`);
      const fs = await prepareFilesystem(made.loop, volumeId, readOnly);
      if (!readOnly && !fs.made && EXT_FS_TYPES.has(fs.fsType)) await growOffline(made.loop, volumeId);
      await mkdir(dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      made.dir = true;
      await must(mountArgv(made.loop, dir, fs.fsType, readOnly), `mounting volume ${volumeId}`);
      made.mounted = true;
      const mount: ContainerMount = { attachmentId, volumeId, hostPath: dir, loopDevice: made.loop, readOnly };
      await writeMountRecord(p, mount);
      log.info({ attachmentId, volumeId, loopDevice: made.loop, readOnly, formatted: fs.made }, 'volume mounted for a container');
      return mount;
    } catch (err) {
      // Undone in reverse; a step that fails here is logged, and the listing finds what it left.
      const undo = async (step: string, fn: () => Promise<unknown>) => fn().catch((e: unknown) => log.error({ attachmentId, volumeId, step, err: (e as Error).message }, 'could not undo a failed volume mount'));
      if (made.mounted) await undo('umount', () => must(umountArgv(dir), `unmounting ${dir}`));
      if (made.loop) {
        const loop = made.loop;
        await undo('losetup', () => detachLoop({ device: loop, backingFile: file, deleted: false, readOnly }));
      }
      if (made.dir) await undo('rmdir', () => removeAttachmentFiles(attachmentId));
      throw err;
    }
  }

  return {
    async probe(): Promise<BlockHostInfo> {
      const version = await exec(['qemu-img', '--version']);
      if (version.code !== 0) throw new KumoError('ERR_INTERNAL', `qemu-img --version failed: ${version.stderr.trim()}`);
      await ensureDirs();
      const fs = await statfs(p.volumes);
      const missing = MOUNT_TOOLS.filter(([tool]) => !findBinary(tool));
      const reason = process.getuid?.() !== 0 ? 'Kumo does not run as root (loop devices and mounts need it)'
        : !existsSync('/dev/loop-control') ? 'the kernel offers no loop devices (/dev/loop-control is missing)'
          : missing.length > 0 ? `missing ${missing.map(([tool, pkg]) => `${tool} (${pkg})`).join(', ')}`
            : null;
      return {
        volumeDir: p.volumes,
        totalBytes: fs.blocks * fs.bsize,
        freeBytes: fs.bavail * fs.bsize,
        qemuImgVersion: /version\s+([0-9][^\s]*)/.exec(version.stdout)?.[1] ?? 'unknown',
        containerMounts: reason === null,
        containerMountsReason: reason,
        containerOnlineExtend: reason === null && (await canResizeOnline()),
      };
    },

    async createVolume(volumeId, sizeBytes, source) {
      checkId(volumeId, 'volume');
      checkSize(sizeBytes);
      checkSource(source);
      return withLock(`volume:${volumeId}`, async () => {
        const file = volumeFile(p, volumeId);
        const existing = await volumeInfo(volumeId);
        if (existing) {
          if (existing.sizeBytes === sizeBytes) return existing;
          throw new KumoError('ERR_CONFLICT', `volume ${volumeId} already has a file of ${existing.sizeBytes} bytes, not ${sizeBytes}`);
        }
        await publish(file, `volume-${volumeId}.raw`, (tmp) => fill(tmp, sizeBytes, source));
        log.info({ volumeId, sizeBytes, source: source?.kind ?? 'none' }, 'volume file created');
        return (await volumeInfo(volumeId))!;
      });
    },

    async volume(volumeId) {
      checkId(volumeId, 'volume');
      return volumeInfo(volumeId);
    },

    async extendVolume(volumeId, sizeBytes) {
      checkId(volumeId, 'volume');
      checkSize(sizeBytes);
      return withLock(`volume:${volumeId}`, async () => {
        const v = await requireVolume(volumeId);
        if (sizeBytes < v.sizeBytes) throw new KumoError('ERR_CONFLICT', `volume ${volumeId} is ${v.sizeBytes} bytes; it cannot shrink to ${sizeBytes}`);
        if (sizeBytes === v.sizeBytes) return v;
        const mounts = (await observeMounts()).live.filter((m) => m.volumeId === volumeId);
        const writer = mounts.find((m) => !m.readOnly);
        if (writer && !(await canResizeOnline())) {
          throw new KumoError('ERR_CONFLICT', `volume ${volumeId} is mounted for attachment ${writer.attachmentId} and this host cannot grow a mounted filesystem (Kumo lacks CAP_SYS_RESOURCE); extend it while it is not mounted`);
        }
        await truncate(v.path, sizeBytes);
        for (const m of mounts) {
          await must(loopRefreshArgv(m.loopDevice), `growing ${m.loopDevice} of volume ${volumeId}`);
          // Only a writer may grow the filesystem; a read-only mount sees the new size at its next mount.
          if (!m.readOnly) await must(resize2fsArgv(m.loopDevice), `growing the filesystem of volume ${volumeId}`, FS_MS);
        }
        log.info({ volumeId, from: v.sizeBytes, to: sizeBytes, mounted: mounts.length }, 'volume extended');
        return (await volumeInfo(volumeId))!;
      });
    },

    async deleteVolume(volumeId) {
      checkId(volumeId, 'volume');
      await withLock(`volume:${volumeId}`, () => tracked(async () => {
        const file = volumeFile(p, volumeId);
        const state = await observeMounts();
        const using = state.live.find((m) => m.volumeId === volumeId);
        if (using) throw new KumoError('ERR_CONFLICT', `volume ${volumeId} is mounted for attachment ${using.attachmentId}`);
        // A mount of this volume would hold its lock: a loop device over it now is what a crash left.
        for (const loop of state.idleLoops.filter((l) => l.backingFile === file)) await detachLoop(loop);
        await rm(file, { force: true });
      }));
    },

    async createSnapshot(snapshotId, volumeId) {
      checkId(snapshotId, 'snapshot');
      checkId(volumeId, 'volume');
      return withLock(`snapshot:${snapshotId}`, async () => {
        const existing = await snapshotInfo(snapshotId);
        if (existing) return existing;
        const v = await requireVolume(volumeId);
        // A copy of the file as it is: what a VM or a container wrote and did not flush is not in it (the caller quiesces).
        await publish(snapshotFile(p, snapshotId), `snapshot-${snapshotId}.raw`, (tmp) => copyRaw(v.path, tmp, `volume ${volumeId}`));
        log.info({ snapshotId, volumeId }, 'volume snapshot created');
        return (await snapshotInfo(snapshotId))!;
      });
    },

    async deleteSnapshot(snapshotId) {
      checkId(snapshotId, 'snapshot');
      await withLock(`snapshot:${snapshotId}`, () => rm(snapshotFile(p, snapshotId), { force: true }));
    },

    async list() {
      const ids = async (dir: string) => (await readdir(dir).catch(() => [] as string[]))
        .map((name) => idOfRawFile(dir, path.join(dir, name)))
        .filter((id): id is string => id !== null)
        .sort();
      const [volumeIds, snapshotIds] = await Promise.all([ids(p.volumes), ids(p.snapshots)]);
      return { volumeIds, snapshotIds };
    },

    async removeTemporaryFiles() {
      const names = await readdir(p.tmp).catch(() => [] as string[]);
      const stale = names.map((n) => path.join(p.tmp, n)).filter((f) => !activeTemps.has(f));
      await Promise.all(stale.map((f) => rm(f, { force: true, recursive: true })));
      if (stale.length > 0) log.info({ files: stale.length }, 'temporary block files removed');
    },

    async exportVolume(volumeId, format: ExportFormat, destPath) {
      checkId(volumeId, 'volume');
      if (format !== 'raw' && format !== 'qcow2') throw new KumoError('ERR_VALIDATION', `export format ${String(format)} is not raw or qcow2`);
      if (!path.isAbsolute(destPath)) throw new KumoError('ERR_VALIDATION', 'the export destination must be an absolute path');
      const v = await requireVolume(volumeId);
      try {
        // -U: a running VM's QEMU holds the file locked; the caller decides whether the copy is consistent.
        await must(qemuImgConvertArgv({ source: v.path, sourceFormat: 'raw', target: destPath, targetFormat: format, forceShare: true }), `exporting volume ${volumeId}`, LONG_MS);
        return { sizeBytes: (await stat(destPath)).size };
      } catch (err) {
        await rm(destPath, { force: true });
        throw err;
      }
    },

    async mountForContainer(attachmentId, volumeId, mountOptions = {}) {
      checkId(attachmentId, 'attachment');
      checkId(volumeId, 'volume');
      const readOnly = mountOptions.readOnly ?? false;
      // Attachment, then volume: nothing takes them the other way round.
      return withLock(`attachment:${attachmentId}`, () => withLock(`volume:${volumeId}`, () => tracked(() => mountForContainer(attachmentId, volumeId, readOnly))));
    },

    async unmountForContainer(attachmentId) {
      checkId(attachmentId, 'attachment');
      await withLock(`attachment:${attachmentId}`, () => tracked(async () => {
        const state = await observeMounts();
        const mount = state.live.find((m) => m.attachmentId === attachmentId);
        if (mount) await unmount(mount);
        else {
          // Mounted once and unmounted by someone else, or a crash between umount and losetup: the loop device may be left.
          const record = state.records.get(attachmentId);
          const loop = record && state.idleLoops.find((l) => l.device === record.loopDevice && l.backingFile === volumeFile(p, record.volumeId));
          if (loop) await detachLoop(loop);
        }
        await removeAttachmentFiles(attachmentId);
        if (mount) log.info({ attachmentId, volumeId: mount.volumeId, loopDevice: mount.loopDevice }, 'volume unmounted');
      }));
    },

    async listContainerMounts() {
      const state = await observeMounts();
      // Records are repaired under each attachment's lock, on a fresh look: an operation may have changed it meanwhile.
      for (const id of new Set([...state.unrecorded.map((m) => m.attachmentId), ...state.staleRecords])) {
        await withLock(`attachment:${id}`, async () => {
          const now = await observeMounts();
          const unrecorded = now.unrecorded.find((m) => m.attachmentId === id);
          if (unrecorded) await writeMountRecord(p, unrecorded);
          else if (now.staleRecords.includes(id)) await removeAttachmentFiles(id);
        });
      }
      // Between losetup and mount, a mount being made has a loop device no mount uses: leftovers are released only while none is.
      for (const loop of state.idleLoops) {
        if (mountOps > 0) break;
        log.warn({ loopDevice: loop.device, file: loop.backingFile }, 'releasing a loop device no mount uses (left by a crash)');
        await tracked(() => detachLoop(loop)).catch((err: unknown) => log.error({ loopDevice: loop.device, err: (err as Error).message }, 'could not release a leftover loop device'));
      }
      return state.live;
    },
  };
}
