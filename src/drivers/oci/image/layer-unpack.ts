/**
 * Unpacks one layer blob (a tar, gzip-compressed or not) into a directory that overlayfs can use
 * as a lower layer. Paths are resolved inside that directory only: `..` cannot climb out, and a
 * symlink the layer creates is followed as if the directory were `/` (as containerd does), so no
 * entry can write outside. OCI whiteouts become overlay whiteouts (see whiteouts.ts); the
 * uncompressed stream is hashed on the way and must match the image config's diff id.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readlink, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { KumoError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import { readTar, type TarEntry, type TarHeader } from './tar-reader.js';
import type { WhiteoutApplier } from './whiteouts.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const MAX_SYMLINK_HOPS = 40;

export interface UnpackOptions {
  readonly blobFile: string;
  /** An empty directory; the layer's root. */
  readonly target: string;
  /** For messages. */
  readonly layerDigest: string;
  /** sha256 of the uncompressed tar, from the image config; null when nothing says what it should be. */
  readonly diffId: string | null;
  /** chown entries to the tar's uid/gid (needs root). */
  readonly preserveOwnership: boolean;
  readonly applyWhiteouts: WhiteoutApplier;
  /** A directory on the target's file system for scratch files. */
  readonly scratchDir: string;
  /** Creates a device node or fifo (Node cannot). */
  readonly makeNode: (path: string, entry: TarHeader) => Promise<void>;
  readonly logger: Logger;
}

export interface UnpackResult {
  readonly entries: number;
  readonly whiteouts: number;
  readonly opaqueDirs: number;
  /** sha256 of the uncompressed tar. */
  readonly diffId: string;
}

/** An entry name as path components below the layer root; `..` may not climb above it. */
export function entryComponents(name: string): string[] {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new KumoError('ERR_VALIDATION', `tar entry ${JSON.stringify(name)} points outside the layer`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;
const enoent = (err: unknown) => errno(err) === 'ENOENT';

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if (enoent(err)) return null;
    throw err;
  }
}

/** Resolves paths inside one root the way the container will see them, creating missing directories. */
class RootedPaths {
  readonly #root: string;
  /** Directories known to exist (as real directories) under the root; saves an lstat per component. */
  readonly #dirs = new Set<string>();

  constructor(root: string) {
    this.#root = root;
  }

  /** The real directory `parts` names inside the root, created (0755) where missing. */
  async directory(parts: readonly string[]): Promise<string> {
    let current: string[] = [];
    const queue = [...parts];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        current.pop();
        continue;
      }
      const candidate = join(this.#root, ...current, part);
      if (this.#dirs.has(candidate)) {
        current.push(part);
        continue;
      }
      const st = await lstatOrNull(candidate);
      if (st?.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new KumoError('ERR_VALIDATION', `too many levels of symbolic links at ${candidate.slice(this.#root.length)}`);
        const target = await readlink(candidate);
        if (target.startsWith('/')) current = [];
        queue.unshift(...target.split('/'));
        continue;
      }
      if (st && !st.isDirectory()) await rm(candidate, { force: true });
      if (!st || !st.isDirectory()) await mkdir(candidate, { mode: 0o755 });
      this.#dirs.add(candidate);
      current.push(part);
    }
    return join(this.#root, ...current);
  }

  /** Forgets `path` and everything below it (it was replaced). */
  forget(path: string): void {
    for (const dir of this.#dirs) if (dir === path || dir.startsWith(`${path}/`)) this.#dirs.delete(dir);
  }

  known(path: string): void {
    this.#dirs.add(path);
  }
}

/** Writes the file and its metadata through one handle (path-based chown/chmod/utimes cost twice as much per file). */
async function writeFileEntry(path: string, entry: TarEntry, preserveOwnership: boolean): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    for await (const chunk of entry.body) await handle.write(chunk);
    if (preserveOwnership) await handle.chown(entry.uid, entry.gid);
    // After chown, which clears setuid and setgid.
    await handle.chmod(entry.mode);
    const t = Math.max(0, entry.mtime);
    await handle.utimes(t, t);
  } finally {
    await handle.close();
  }
}

/** The blob's bytes, gunzipped when it starts with the gzip magic (media types are not trusted to say). */
async function openLayerStream(blobFile: string, layerDigest: string): Promise<Readable> {
  const handle = await open(blobFile, 'r');
  const magic = Buffer.alloc(4);
  try {
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (magic.readUInt32BE(0) === 0x28b52ffd) throw new KumoError('ERR_VALIDATION', `layer ${layerDigest} is zstd-compressed, which Kumo does not support yet`);
  const file = createReadStream(blobFile, { highWaterMark: 256 * 1024 });
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return file;
  return pipeline(file, createGunzip({ chunkSize: 256 * 1024 }), () => undefined);
}

export async function unpackLayer(o: UnpackOptions): Promise<UnpackResult> {
  const paths = new RootedPaths(o.target);
  const dirMeta = new Map<string, TarHeader>();
  const whiteouts = new Set<string>();
  const opaqueDirs = new Set<string>();
  const skippedXattrs = new Set<string>();
  const hash = createHash('sha256');
  let entries = 0;
  const stream = await openLayerStream(o.blobFile, o.layerDigest);
  const hashed = (async function* () {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      yield chunk;
    }
  })();

  const applyMeta = async (path: string, h: TarHeader, isLink: boolean) => {
    if (o.preserveOwnership) await lchown(path, h.uid, h.gid);
    // After chown, which clears setuid and setgid.
    if (!isLink) await chmod(path, h.mode);
    const t = Math.max(0, h.mtime);
    await (isLink ? lutimes(path, t, t) : utimes(path, t, t));
  };

  try {
    for await (const entry of readTar(hashed)) {
      entries++;
      const parts = entryComponents(entry.name);
      for (const name of Object.keys(entry.xattrs)) skippedXattrs.add(name);
      if (parts.length === 0) {
        if (entry.type === 'directory') dirMeta.set(o.target, entry);
        continue;
      }
      const base = parts[parts.length - 1];
      const parent = await paths.directory(parts.slice(0, -1));
      if (base === OPAQUE_MARKER) {
        opaqueDirs.add(parent);
        continue;
      }
      if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) continue; // AUFS bookkeeping (.wh..wh.plnk and the like)
      if (base.startsWith(WHITEOUT_PREFIX)) {
        whiteouts.add(join(parent, base.slice(WHITEOUT_PREFIX.length)));
        continue;
      }
      const target = join(parent, base);
      if (entry.type === 'directory') {
        try {
          await mkdir(target, { mode: 0o700 });
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw err;
          if (!(await lstat(target)).isDirectory()) {
            await rm(target, { force: true });
            await mkdir(target, { mode: 0o700 });
          }
        }
        paths.known(target);
        dirMeta.set(target, entry);
        continue;
      }
      // Create first and look only when something is in the way (rare), saving an lstat per entry.
      const replacing = async (create: () => Promise<void>) => {
        try {
          await create();
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw err;
          // A later entry replaces an earlier one, as tar does.
          await rm(target, { recursive: true, force: true });
          paths.forget(target);
          for (const dir of dirMeta.keys()) if (dir === target || dir.startsWith(`${target}/`)) dirMeta.delete(dir);
          await create();
        }
      };
      switch (entry.type) {
        case 'file':
          await replacing(() => writeFileEntry(target, entry, o.preserveOwnership));
          break;
        case 'symlink':
          await replacing(() => symlink(entry.linkname, target));
          await applyMeta(target, entry, true);
          break;
        case 'hardlink': {
          const linkParts = entryComponents(entry.linkname);
          if (linkParts.length === 0) throw new KumoError('ERR_VALIDATION', `hard link ${entry.name} points at the layer root`);
          const source = join(await paths.directory(linkParts.slice(0, -1)), linkParts[linkParts.length - 1]);
          const st = await lstatOrNull(source);
          if (!st || st.isDirectory()) {
            throw new KumoError('ERR_VALIDATION', `hard link ${entry.name} points at ${entry.linkname}, which is not a file earlier in the same layer`);
          }
          if (source !== target) await replacing(() => link(source, target));
          break;
        }
        case 'char':
        case 'block':
        case 'fifo':
          await replacing(() => o.makeNode(target, entry));
          await applyMeta(target, entry, false);
          break;
        default:
          o.logger.debug({ layer: o.layerDigest, entry: entry.name }, 'skipping a tar entry of an unsupported type');
      }
    }
    // Zero padding after the end-of-archive blocks is part of the diff id too.
    for await (const _ of hashed);
  } catch (err) {
    stream.destroy();
    if (err instanceof KumoError) throw new KumoError(err.code, `layer ${o.layerDigest}: ${err.message}`, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
      throw new KumoError('ERR_VALIDATION', `layer ${o.layerDigest} is not a valid gzip stream: ${(err as Error).message}`, { cause: err });
    }
    throw new KumoError('ERR_INTERNAL', `unpacking layer ${o.layerDigest} failed: ${(err as Error).message}`, { cause: err });
  }

  const diffId = `sha256:${hash.digest('hex')}`;
  if (o.diffId !== null && diffId !== o.diffId) {
    throw new KumoError('ERR_VALIDATION', `layer ${o.layerDigest} does not match its image config: its content hashes to ${diffId}, the config says ${o.diffId}`);
  }

  // A whiteout applies to lower layers only: an entry of the same layer at that path wins.
  const files: string[] = [];
  for (const path of whiteouts) if (!(await lstatOrNull(path))) files.push(path);
  await o.applyWhiteouts(o.scratchDir, { files, opaqueDirs: [...opaqueDirs] });

  // Directories last, deepest first: their times would move with every entry written into them,
  // and a read-only mode would stop the writes.
  if (!dirMeta.has(o.target)) await chmod(o.target, 0o755);
  const dirs = [...dirMeta.entries()].sort((a, b) => b[0].length - a[0].length);
  for (const [dir, h] of dirs) await applyMeta(dir, h, false);

  if (skippedXattrs.size > 0) {
    o.logger.debug({ layer: o.layerDigest, xattrs: [...skippedXattrs] }, 'layer carries extended attributes (e.g. file capabilities); they are not applied');
  }
  return { entries, whiteouts: files.length, opaqueDirs: opaqueDirs.size, diffId };
}
