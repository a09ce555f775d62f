/**
 * Copying into and out of a container's root (Zun's put_archive / get_archive).
 *
 * Out: the host's `tar -c` with `-C` on a path resolved inside the root (rootfs-path.ts); tar
 * stores symlinks as symlinks, so nothing is followed out of the root. In: the archive is read
 * here (tar.ts) and every entry written through paths resolved inside the root, never by the
 * host's `tar -x`, which would follow an absolute symlink already in the container (say
 * `/tmp/x -> /etc`) to the host's own /etc. The caller pauses a running container around both.
 * @module
 */
import { chmod, lchown, link, lstat, lutimes, mkdir, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KumoError } from '../../../errors.js';
import type { CommandRunner } from './command-runner.js';
import { resolveInRoot } from './rootfs-path.js';
import { readTar, TarFormatError } from './tar.js';

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** An entry's path relative to the target dir (`./a//b/` -> `a/b`); throws when it climbs out of it. */
export function entryPath(name: string): string {
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c !== '..') parts.push(c);
    else if (parts.length) parts.pop();
    else throw new KumoError('ERR_BAD_REQUEST', `archive entry ${JSON.stringify(name)} points outside the target directory`);
  }
  return parts.join('/');
}

export interface ExtractResult {
  readonly written: number;
  /** Device nodes and FIFOs, which are not created. */
  readonly skipped: readonly string[];
}

/** Extracts `archive` into the directory `destination` (a container path, which must exist). */
export async function extractArchive(root: string, destination: string, archive: Buffer): Promise<ExtractResult> {
  const target = await resolveInRoot(root, destination);
  const st = await lstatOrNull(target);
  if (!st) throw new KumoError('ERR_NOT_FOUND', `no such directory in the container: ${destination}`);
  if (!st.isDirectory()) throw new KumoError('ERR_BAD_REQUEST', `not a directory in the container: ${destination}`);
  const base = `/${path.relative(root, target)}`;

  let entries;
  try {
    entries = readTar(archive);
  } catch (err) {
    if (err instanceof TarFormatError) throw new KumoError('ERR_BAD_REQUEST', err.message);
    throw err;
  }

  const dirTimes: { host: string; mtime: number }[] = [];
  const skipped: string[] = [];
  let written = 0;
  for (const entry of entries) {
    const rel = entryPath(entry.name);
    if (!rel) continue; // the target dir itself ("./")
    const containerPath = path.posix.join(base, rel);
    const parent = await resolveInRoot(root, path.posix.dirname(containerPath));
    await mkdir(parent, { recursive: true });
    const host = path.join(parent, path.posix.basename(containerPath));
    const existing = await lstatOrNull(host);
    if (existing?.isDirectory() && entry.type !== 'directory') {
      throw new KumoError('ERR_BAD_REQUEST', `cannot overwrite directory ${containerPath} with a non-directory`);
    }
    switch (entry.type) {
      case 'directory':
        if (existing && !existing.isDirectory()) await unlink(host);
        if (!existing?.isDirectory()) await mkdir(host, { mode: entry.mode });
        await lchown(host, entry.uid, entry.gid);
        await chmod(host, entry.mode);
        dirTimes.push({ host, mtime: entry.mtime });
        break;
      case 'file':
        if (existing) await unlink(host);
        // O_EXCL: the name was just freed, so this never writes through a symlink.
        await writeFile(host, entry.data, { flag: 'wx', mode: entry.mode });
        await lchown(host, entry.uid, entry.gid);
        await chmod(host, entry.mode);
        await utimes(host, entry.mtime, entry.mtime);
        break;
      case 'symlink':
        if (existing) await unlink(host);
        await symlink(entry.linkname, host);
        await lchown(host, entry.uid, entry.gid);
        await lutimes(host, entry.mtime, entry.mtime);
        break;
      case 'hardlink': {
        const source = await resolveInRoot(root, path.posix.join(base, entryPath(entry.linkname)), { followFinal: false });
        if (existing) await unlink(host);
        await link(source, host);
        break;
      }
      default:
        skipped.push(containerPath);
        continue;
    }
    written++;
  }
  // Last, deepest first: writing into a directory moves its mtime.
  for (const { host, mtime } of dirTimes.reverse()) await utimes(host, mtime, mtime);
  return { written, skipped };
}

/** Virtual file systems left out of an archive of the whole root. */
const ROOT_EXCLUDES = ['./proc', './sys', './dev'];

/** A tar of `source` (a container path) made by the host's tar from inside the root. */
export async function createArchive(runner: CommandRunner, tarPath: string, root: string, source: string): Promise<Buffer> {
  // A trailing slash asks for what a symlink points at, as with cp.
  const resolved = await resolveInRoot(root, source, { followFinal: source.endsWith('/') });
  if (!(await lstatOrNull(resolved))) throw new KumoError('ERR_NOT_FOUND', `no such file or directory in the container: ${source}`);
  const argv = resolved === path.resolve(root)
    ? [tarPath, '--create', '--file', '-', '--numeric-owner', '--directory', resolved, ...ROOT_EXCLUDES.map((e) => `--exclude=${e}`), '.']
    : [tarPath, '--create', '--file', '-', '--numeric-owner', '--directory', path.dirname(resolved), '--', path.basename(resolved)];
  const result = await runner.run(argv, { timeoutMs: 300_000 });
  // 1: some file changed while it was read; the archive is still whole.
  if (result.code !== 0 && !(result.code === 1 && result.stdout.length)) {
    throw new KumoError('ERR_INTERNAL', `tar failed (${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}
