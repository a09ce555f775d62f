/**
 * Overlayfs whiteouts in unpacked layers: a deleted path is a character device 0/0, an opaque
 * directory carries the xattr `trusted.overlay.opaque=y`. Node can neither mknod nor set xattrs,
 * so the kernel makes them for us: in a throwaway overlay mount whose lower dir holds one
 * placeholder per request, unlinking a placeholder leaves a whiteout in the upper dir, and
 * removing and re-creating a placeholder directory leaves an opaque directory there. Both are
 * then renamed into the layer (same file system; a rename keeps the device node and the xattr).
 * One mount per layer that has any, whatever their number; no extra host tool beyond `mount`.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KumoError } from '../../../errors.js';
import { failureText, type CommandRunner } from './command.js';
import { overlayMountArgv, umountArgv } from './overlay-mount.js';

export interface WhiteoutRequest {
  /** Absolute paths (inside the layer being unpacked) to turn into whiteouts; nothing exists there yet. */
  readonly files: readonly string[];
  /** Absolute paths of directories (existing or not) to make opaque, keeping what is in them. */
  readonly opaqueDirs: readonly string[];
}

/** Creates the whiteouts; `scratchParent` is a directory on the layer's file system for temporary files. */
export type WhiteoutApplier = (scratchParent: string, request: WhiteoutRequest) => Promise<void>;

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** `source` labels the scratch mount in mountinfo (the owner's label, as every host object carries). */
export function createOverlayWhiteoutApplier(run: CommandRunner, source: string): WhiteoutApplier {
  return async (scratchParent, request) => {
    if (request.files.length === 0 && request.opaqueDirs.length === 0) return;
    const scratch = join(scratchParent, `whiteouts-${randomBytes(6).toString('hex')}`);
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(scratch, d));
    await Promise.all([lower, upper, work, merged].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
    try {
      // Shallow first: an opaque directory inside another is moved along with its parent's content before it is replaced itself.
      const opaque = [...request.opaqueDirs].sort((a, b) => a.split('/').length - b.split('/').length);
      for (const [i] of opaque.entries()) await mkdir(join(lower, `o${i}`));
      for (const [i] of request.files.entries()) await writeFile(join(lower, `w${i}`), '');
      const mount = await run(overlayMountArgv({ lowerDirs: [lower], upperDir: upper, workDir: work, target: merged, source }));
      if (mount.code !== 0) {
        throw new KumoError('ERR_INTERNAL', `cannot create overlay whiteouts: mounting a scratch overlay failed: ${failureText(mount)} (overlayfs is needed to run images whose layers delete files)`);
      }
      try {
        for (const [i] of opaque.entries()) {
          await rmdir(join(merged, `o${i}`));
          await mkdir(join(merged, `o${i}`), { mode: 0o755 });
        }
        for (const [i] of request.files.entries()) await unlink(join(merged, `w${i}`));
      } finally {
        const umount = await run(umountArgv(merged));
        if (umount.code !== 0) throw new KumoError('ERR_INTERNAL', `cannot unmount the scratch overlay ${merged}: ${failureText(umount)}`);
      }
      for (const [i, dir] of opaque.entries()) {
        const made = join(upper, `o${i}`);
        if (await exists(dir)) {
          for (const child of await readdir(dir)) await rename(join(dir, child), join(made, child));
          await rmdir(dir);
        }
        await rename(made, dir);
      }
      for (const [i, file] of request.files.entries()) await rename(join(upper, `w${i}`), file);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  };
}
