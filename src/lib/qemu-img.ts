/**
 * qemu-img as the drivers use it: pure argv builders and the parse of `qemu-img info`, for the
 * hypervisor's base images and overlays and the block storage's volume files alike.
 * @module
 */
import { KumoError } from '../errors.js';
import type { CommandRunner } from './command-runner.js';

export type DiskFormat = 'qcow2' | 'raw';

export interface QemuImgInfo {
  /** What qemu-img found the content to be (with a declared format: that format). */
  readonly format: string;
  readonly virtualSize: number;
  readonly backing: string | null;
}

/**
 * `forceShare` (-U): read an image a running QEMU holds locked (the caller knows the read is
 * consistent enough, e.g. the guest is paused or the copy is crash-consistent by contract).
 */
export function qemuImgInfoArgv(file: string, options: { readonly format?: DiskFormat; readonly forceShare?: boolean } = {}): string[] {
  return ['qemu-img', 'info', '--output=json', ...(options.forceShare ? ['-U'] : []), ...(options.format ? ['-f', options.format] : []), file];
}

export function parseQemuImgInfo(json: string): QemuImgInfo {
  const j = JSON.parse(json) as { format: string; 'virtual-size': number; 'backing-filename'?: string };
  return { format: j.format, virtualSize: j['virtual-size'], backing: j['backing-filename'] ?? null };
}

export async function qemuImgInfo(run: CommandRunner, file: string, options: { readonly format?: DiskFormat; readonly forceShare?: boolean } = {}): Promise<QemuImgInfo> {
  const r = await run.run(qemuImgInfoArgv(file, options));
  if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `qemu-img info ${file}: ${r.stderr.trim()}`);
  return parseQemuImgInfo(r.stdout);
}

/**
 * `qemu-img convert` from one format to another. A raw target is written sparse: runs of 4 KiB
 * of zeroes become holes (-S 4k, qemu-img's own default is the same but saying it keeps it so).
 * `directTarget` writes the target with O_DIRECT (-t none) and flushes it before qemu-img exits:
 * a target that must reach the disk anyway gets there without going through the page cache,
 * which measured faster here than both qemu-img's default (nothing flushed) and writeback + flush.
 * `intoZeroedTarget`: the target exists, at its final size, and reads as zeroes (a new sparse
 * file): qemu-img neither creates nor truncates it and writes only the source's data.
 */
export function qemuImgConvertArgv(c: {
  readonly source: string;
  readonly sourceFormat: DiskFormat;
  readonly target: string;
  readonly targetFormat: DiskFormat;
  readonly forceShare?: boolean;
  readonly directTarget?: boolean;
  readonly intoZeroedTarget?: boolean;
}): string[] {
  return [
    'qemu-img', 'convert', '-q', ...(c.forceShare ? ['-U'] : []), ...(c.directTarget ? ['-t', 'none'] : []),
    ...(c.intoZeroedTarget ? ['-n', '--target-is-zero'] : []), '-f', c.sourceFormat, '-O', c.targetFormat,
    ...(c.targetFormat === 'raw' ? ['-S', '4k'] : []), c.source, c.target,
  ];
}

/**
 * Refuses a file declared qcow2 that is not one, or that names a backing file (which would let
 * an image read any host file). A raw image is never probed (callers pass -f raw).
 */
export async function checkQcow2Image(run: CommandRunner, file: string, what: string): Promise<QemuImgInfo> {
  const img = await qemuImgInfo(run, file);
  if (img.format !== 'qcow2') throw new KumoError('ERR_BAD_REQUEST', `${what}: declared qcow2 but its content is ${img.format}`);
  if (img.backing) throw new KumoError('ERR_BAD_REQUEST', `${what}: a qcow2 image with a backing file is refused`);
  return img;
}
