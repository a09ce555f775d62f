/**
 * Overlay mounts: the `mount`/`umount` argv (pure, unit-tested) and whether a root filesystem
 * is mounted (the mountinfo reader, shared with other drivers, is src/lib/mountinfo.ts).
 * @module
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KumoError } from '../../../errors.js';

/** The kernel copies mount options into one page. */
const MAX_MOUNT_OPTIONS = 4095;

export interface OverlayMount {
  /** Top first, as overlayfs wants them; relative to the mount command's working directory or absolute. */
  readonly lowerDirs: readonly string[];
  readonly upperDir: string;
  readonly workDir: string;
  readonly target: string;
  /** What mountinfo shows as the source: the owner label, so a listing says whose it is. */
  readonly source: string;
}

/** Characters overlayfs reads as option syntax (`,` between options, `:` between lower dirs). */
export function hasOverlaySyntax(path: string): boolean {
  return /[,:\\\s]/.test(path);
}

export function overlayMountArgv(m: OverlayMount): string[] {
  if (m.lowerDirs.length === 0) throw new KumoError('ERR_VALIDATION', 'an overlay mount needs at least one lower layer');
  for (const p of [...m.lowerDirs, m.upperDir, m.workDir]) {
    if (hasOverlaySyntax(p)) throw new KumoError('ERR_VALIDATION', `overlay path ${JSON.stringify(p)} contains a character overlayfs options cannot carry (, : \\ or white space)`);
  }
  const options = `lowerdir=${m.lowerDirs.join(':')},upperdir=${m.upperDir},workdir=${m.workDir}`;
  if (options.length > MAX_MOUNT_OPTIONS) {
    throw new KumoError('ERR_VALIDATION', `an image with ${m.lowerDirs.length} distinct layers is more than one overlay mount can stack here (the options exceed ${MAX_MOUNT_OPTIONS} bytes)`);
  }
  // -i: no /sbin/mount.* helpers; -n: no /etc/mtab; the mount is ours alone.
  return ['mount', '-i', '-n', '-t', 'overlay', '-o', options, m.source, m.target];
}

export function umountArgv(target: string): string[] {
  return ['umount', '-i', '-n', target];
}

export { parseMountInfo, readMounts, unescapeMountField, type MountEntry } from '../../../lib/mountinfo.js';

/**
 * Whether something is mounted on `path`: its device differs from its parent's. One stat each
 * instead of reading and parsing the host's whole mount table (at a thousand containers that
 * table is a thousand overlay lines, read for every container started or removed).
 */
export async function isMountPoint(path: string): Promise<boolean> {
  try {
    const [self, parent] = await Promise.all([stat(path), stat(dirname(path))]);
    return self.dev !== parent.dev;
  } catch {
    return false;
  }
}
