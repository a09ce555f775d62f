/**
 * Paths inside a container's root, resolved on the host the way the container would see them.
 *
 * The kernel resolves an absolute symlink met under /proc/<pid>/root (or under a rootfs dir)
 * against the *caller's* root, so a container could point `/tmp/x -> /etc` and have the host
 * write into the host's /etc. Every component is therefore resolved here, one `lstat` at a time,
 * with symlinks and `..` clamped at the container's root, like Go's securejoin. The result has
 * no symlink in it (up to the last existing component), so the kernel cannot be led out again —
 * as long as nothing inside changes it meanwhile, which is why the runtime pauses a running
 * container while it copies.
 * @module
 */
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

const MAX_SYMLINKS = 255;

/** Splits a container path into its components (empty ones and `.` dropped; `..` kept). */
function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true). */
  readonly followFinal?: boolean;
}

/**
 * The host path of `containerPath` inside `root`. Components that do not exist are appended as
 * they are (with `..` applied lexically), so the caller can create them.
 */
export async function resolveInRoot(root: string, containerPath: string, options: ResolveOptions = {}): Promise<string> {
  const followFinal = options.followFinal ?? true;
  const pending = components(containerPath);
  const resolved: string[] = [];
  let links = 0;
  let missing = false;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    if (missing) {
      resolved.push(part);
      continue;
    }
    const hostPath = path.join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = (await lstat(hostPath)).isSymbolicLink();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      missing = true;
    }
    if (!isLink || (!followFinal && pending.length === 0)) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw Object.assign(new Error(`too many levels of symbolic links: ${containerPath}`), { code: 'ELOOP' });
    const target = await readlink(hostPath);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...components(target));
  }
  return path.join(root, ...resolved);
}
