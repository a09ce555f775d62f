/**
 * Image archives: what `docker save` writes (manifest.json with RepoTags, configs and layer
 * tars, in the old per-layer-directory layout or Docker 25's blobs/) and OCI image layouts
 * (oci-layout, index.json, blobs/sha256/). The archive is unpacked into a scratch directory with
 * every regular file hashed on the way, then read into a list of images whose every file is
 * known by its digest.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { KumoError } from '../../../errors.js';
import { isDigest } from './digest.js';
import { entryComponents } from './layer-unpack.js';
import { formatPlatform, parseManifest, selectPlatform, type ImageManifest, type Platform } from './manifest.js';
import { readTar } from './tar-reader.js';

export interface ArchiveFile {
  /** Where it was unpacked. */
  readonly path: string;
  readonly digest: string;
  readonly size: number;
}

export interface ArchiveImage {
  /** References as the archive writes them (`busybox:latest`, `docker.io/library/busybox:latest`); normalised by the caller. */
  readonly names: readonly string[];
  readonly manifestDigest: string | null;
  readonly config: ArchiveFile;
  readonly layers: readonly ArchiveFile[];
}

export interface ExtractedArchive {
  /** Regular files by normalised name (`a/b/c`). */
  readonly files: ReadonlyMap<string, ArchiveFile>;
  /** Symbolic links by normalised name, with their targets (old `docker save` links repeated layers). */
  readonly links: ReadonlyMap<string, string>;
}

function invalid(path: string, why: string): KumoError {
  return new KumoError('ERR_VALIDATION', `${path} is not an image archive (docker save or OCI layout): ${why}`);
}

/** Unpacks the archive's regular files into `dir` (flat, numbered), hashing each. */
export async function extractArchive(archive: string, dir: string): Promise<ExtractedArchive> {
  const files = new Map<string, ArchiveFile>();
  const links = new Map<string, string>();
  await mkdir(dir, { recursive: true });
  const head = Buffer.alloc(2);
  const fh = await open(archive, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const raw = createReadStream(archive, { highWaterMark: 256 * 1024 });
  const stream = head[0] === 0x1f && head[1] === 0x8b ? pipeline(raw, createGunzip(), () => undefined) : raw;
  try {
    let n = 0;
    for await (const entry of readTar(stream as AsyncIterable<Buffer>)) {
      const name = entryComponents(entry.name).join('/');
      if (entry.type === 'symlink') links.set(name, entry.linkname);
      if (entry.type !== 'file') continue;
      const path = join(dir, String(n++));
      const hash = createHash('sha256');
      const out = await open(path, 'wx', 0o600);
      let size = 0;
      try {
        for await (const chunk of entry.body) {
          hash.update(chunk);
          size += chunk.length;
          await out.write(chunk);
        }
      } finally {
        await out.close();
      }
      files.set(name, { path, digest: `sha256:${hash.digest('hex')}`, size });
    }
  } catch (err) {
    if (err instanceof KumoError) throw invalid(archive, err.message);
    throw err;
  } finally {
    stream.destroy();
  }
  return { files, links };
}

/** The file `name` refers to inside the archive, following symbolic links relative to the link's directory. */
function lookup(archive: ExtractedArchive, name: string, source: string): ArchiveFile {
  let current = entryComponents(name).join('/');
  for (let hops = 0; hops < 10; hops++) {
    const file = archive.files.get(current);
    if (file) return file;
    const target = archive.links.get(current);
    if (target === undefined) break;
    const dir = current.split('/').slice(0, -1).join('/');
    current = entryComponents(target.startsWith('/') ? target : `${dir}/${target}`).join('/');
  }
  throw invalid(source, `it names ${name}, which it does not contain`);
}

async function json(file: ArchiveFile, source: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file.path, 'utf8'));
  } catch {
    throw invalid(source, `${what} is not JSON`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function dockerSaveImages(archive: ExtractedArchive, manifest: unknown, source: string): ArchiveImage[] {
  if (!Array.isArray(manifest) || manifest.length === 0) throw invalid(source, 'manifest.json lists no images');
  return manifest.map((item, i) => {
    if (!isObject(item) || typeof item.Config !== 'string' || !Array.isArray(item.Layers)) {
      throw invalid(source, `manifest.json entry ${i} has no Config and Layers`);
    }
    const names = Array.isArray(item.RepoTags) ? item.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return {
      names,
      manifestDigest: null,
      config: lookup(archive, item.Config, source),
      layers: item.Layers.map((l) => {
        if (typeof l !== 'string') throw invalid(source, `manifest.json entry ${i} has a layer that is not a path`);
        return lookup(archive, l, source);
      }),
    };
  });
}

/** A blob of an OCI layout, checked against the digest it is named by. */
function ociBlob(archive: ExtractedArchive, digest: string, source: string): ArchiveFile {
  if (!isDigest(digest)) throw invalid(source, `${JSON.stringify(digest)} is not a sha256 digest`);
  const file = lookup(archive, `blobs/sha256/${digest.slice('sha256:'.length)}`, source);
  if (file.digest !== digest) {
    throw new KumoError('ERR_VALIDATION', `${source}: blob ${digest} is corrupt: its content hashes to ${file.digest}`);
  }
  return file;
}

async function ociImages(archive: ExtractedArchive, index: unknown, source: string, platform: Platform): Promise<ArchiveImage[]> {
  const top = parseManifest(Buffer.from(JSON.stringify(index)), null, `${source} index.json`);
  if (top.kind !== 'index') throw invalid(source, 'index.json is not an image index');
  const images: ArchiveImage[] = [];
  // A multi-platform layout lists one entry per platform under the same name: only this host's are imported.
  const entries = top.manifests.filter((m) => m.platform === null || (m.platform.os === platform.os && m.platform.architecture === platform.architecture));
  if (entries.length === 0) throw new KumoError('ERR_NOT_FOUND', `${source} has no image for ${formatPlatform(platform)}`);
  for (const entry of entries) {
    const names = [entry.annotations['io.containerd.image.name'], entry.annotations['org.opencontainers.image.ref.name']]
      // A bare tag names no repository; only full references become names.
      .filter((n): n is string => typeof n === 'string' && (n.includes('/') || n.includes(':')));
    let descriptor: { digest: string } = entry;
    let manifestFile = ociBlob(archive, descriptor.digest, source);
    let manifest = parseManifest(await readFile(manifestFile.path), entry.mediaType, `${source} manifest ${descriptor.digest}`);
    if (manifest.kind === 'index') {
      descriptor = selectPlatform(manifest, platform, `${source} index ${entry.digest}`);
      manifestFile = ociBlob(archive, descriptor.digest, source);
      manifest = parseManifest(await readFile(manifestFile.path), null, `${source} manifest ${descriptor.digest}`);
      if (manifest.kind === 'index') throw invalid(source, `index ${entry.digest} nests indexes more than one deep`);
    }
    const m: ImageManifest = manifest;
    images.push({
      names: [...new Set(names)],
      manifestDigest: descriptor.digest,
      config: ociBlob(archive, m.config.digest, source),
      layers: m.layers.map((l) => ociBlob(archive, l.digest, source)),
    });
  }
  if (images.length === 0) throw invalid(source, 'index.json lists no images');
  return images;
}

/** The images an extracted archive holds. manifest.json wins when both formats are present (it carries the names). */
export async function archiveImages(archive: ExtractedArchive, source: string, platform: Platform): Promise<ArchiveImage[]> {
  const dockerManifest = archive.files.get('manifest.json');
  if (dockerManifest) return dockerSaveImages(archive, await json(dockerManifest, source, 'manifest.json'), source);
  const index = archive.files.get('index.json');
  if (index && archive.files.has('oci-layout')) return ociImages(archive, await json(index, source, 'index.json'), source, platform);
  throw invalid(source, 'it has neither manifest.json nor oci-layout and index.json');
}
