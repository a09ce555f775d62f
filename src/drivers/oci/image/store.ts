/**
 * The image store: pulls (distribution client), imports (docker save / OCI layout), verified
 * blobs, layers unpacked once per blob digest, image records and names, and one overlay root
 * filesystem per container. See layout.ts for what lives where.
 *
 * Consistency without a database: every file that appears under a final name got there by a
 * rename from tmp/ after it was verified, so a crash leaves only tmp/ debris (swept by
 * `garbageCollect`). Within the process, downloads and unpacks of one digest are shared by
 * concurrent callers, and record, name and root-filesystem bookkeeping is serialised; digests an
 * operation is working with are pinned so that `garbageCollect` and a failed operation's rollback
 * leave them alone. Across processes sharing a root (not a supported setup, but harmless), the
 * renames keep blobs and layers whole; records and names are last-writer-wins.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { KumoError, notFound } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { ImageStore, ImageStoreOptions, PullOptions, StoredImage } from '../types.js';
import { archiveImages, extractArchive, type ArchiveFile } from './archive.js';
import type { FetchFn } from './auth.js';
import { failureText, runCommand, type CommandRunner } from './command.js';
import { digestHex, isDigest } from './digest.js';
import { parseImageConfig, type ParsedImageConfig } from './image-config.js';
import { unpackLayer } from './layer-unpack.js';
import { CONTAINER_FILES, isValidOwner, parseContainerId, storeLayout } from './layout.js';
import { formatPlatform, hostPlatform, parseManifest, selectPlatform, type Descriptor, type Platform } from './manifest.js';
import { hasOverlaySyntax, isMountPoint, overlayMountArgv, readMounts, umountArgv, type MountEntry } from './overlay-mount.js';
import { createRecordStore, toStoredImage, writeAtomically, type ImageRecord, type NameIndex } from './records.js';
import { familiarName, parseReference, referenceName, repositoryName, type ImageReference } from './reference.js';
import { createRegistryClient, type RegistryClient } from './registry-client.js';
import { createOverlayWhiteoutApplier, type WhiteoutApplier } from './whiteouts.js';

/** Replaceable host access, for tests. */
export interface ImageStoreDeps {
  readonly fetch?: FetchFn;
  readonly run?: CommandRunner;
  readonly mounts?: () => Promise<MountEntry[]>;
  /** The platform picked from multi-platform images when a pull does not say; default: this host's. */
  readonly platform?: Platform;
  /** chown unpacked files to their owners in the layer; default: when running as root. */
  readonly preserveOwnership?: boolean;
  readonly applyWhiteouts?: WhiteoutApplier;
  readonly now?: () => number;
}

/** What a container's directory records about its root filesystem. */
interface RootfsMeta {
  readonly imageId: string;
  readonly layers: readonly string[];
}

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const PARALLEL_DOWNLOADS = 3;
/** tmp/ entries this old that no operation of this process owns are debris of a crash. */
const TMP_DEBRIS_AGE_MS = 60 * 60 * 1000;

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

async function readdirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Bytes of the regular files under `path` (what removing it gives back, near enough). */
async function diskUsage(path: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) total += (await lstat(p)).size;
    }
  };
  await walk(path);
  return total;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (next < items.length && failure === null) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw failure;
}

/** Overlay wants lower dirs top first; a layer that occurs twice (empty layers do) counts where it is topmost. */
export function lowerDirsTopFirst(layers: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const digest of [...layers].reverse()) {
    if (seen.has(digest)) continue;
    seen.add(digest);
    out.push(digestHex(digest));
  }
  return out;
}

export function createImageStore(options: ImageStoreOptions, logger: Logger, deps: ImageStoreDeps = {}): ImageStore {
  const { owner } = options;
  if (!isValidOwner(owner)) throw new KumoError('ERR_VALIDATION', `image store owner must be 1-8 characters [a-z0-9], got ${JSON.stringify(owner)}`);
  if (!isAbsolute(options.root)) throw new KumoError('ERR_VALIDATION', `image store root must be an absolute path, got ${JSON.stringify(options.root)}`);
  const root = resolve(options.root);
  if (hasOverlaySyntax(root)) throw new KumoError('ERR_VALIDATION', `image store root ${JSON.stringify(root)} contains a character overlayfs mount options cannot carry (, : \\ or white space)`);
  const layout = storeLayout(root, owner);
  const records = createRecordStore(layout);
  const run = deps.run ?? runCommand;
  const mounts = deps.mounts ?? readMounts;
  const now = deps.now ?? Date.now;
  const preserveOwnership = deps.preserveOwnership ?? process.getuid?.() === 0;
  const applyWhiteouts = deps.applyWhiteouts ?? createOverlayWhiteoutApplier(run, `kumo-${owner}`);
  const log = logger.child({ component: 'image-store', owner });

  let readyPromise: Promise<void> | null = null;
  const ready = () =>
    (readyPromise ??= (async () => {
      await mkdir(root, { recursive: true, mode: 0o711 });
      for (const dir of [layout.blobsDir, layout.layersDir, layout.imagesDir, layout.containersDir]) await mkdir(dir, { recursive: true, mode: 0o755 });
      await mkdir(layout.tmpDir, { recursive: true, mode: 0o700 });
    })().catch((err: unknown) => {
      readyPromise = null;
      throw err;
    }));

  // ---- in-process coordination

  let tail: Promise<unknown> = Promise.resolve();
  /** Serialises record, name and root-filesystem bookkeeping (and garbage collection). */
  const locked = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn, fn);
    tail = result.catch(() => undefined);
    return result;
  };
  const inFlight = new Map<string, Promise<unknown>>();
  /** One run of `fn` per key at a time; concurrent callers share it. */
  const once = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let p = inFlight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn().finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
  const containerLocks = new Map<string, Promise<unknown>>();
  const perContainer = <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const prev = containerLocks.get(id) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const settled = result.catch(() => undefined);
    containerLocks.set(id, settled);
    void settled.then(() => {
      if (containerLocks.get(id) === settled) containerLocks.delete(id);
    });
    return result;
  };
  const pins = new Map<string, number>();
  const pin = (digests: readonly string[]) => {
    for (const d of digests) pins.set(d, (pins.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of digests) {
        const n = (pins.get(d) ?? 1) - 1;
        if (n > 0) pins.set(d, n);
        else pins.delete(d);
      }
    };
  };
  const activeTmp = new Set<string>();
  const tmpPath = (kind: string) => {
    const name = `${kind}-${randomBytes(8).toString('hex')}`;
    activeTmp.add(name);
    return { path: join(layout.tmpDir, name), release: () => activeTmp.delete(name) };
  };

  // ---- blobs and layers

  async function haveBlob(digest: string, size: number | null): Promise<boolean> {
    const st = await statOrNull(layout.blob(digest));
    return st !== null && st.isFile() && (size === null || st.size === size);
  }

  function downloadBlob(client: RegistryClient, d: Descriptor): Promise<void> {
    return once(`blob:${d.digest}`, async () => {
      if (await haveBlob(d.digest, d.size)) return;
      const tmp = tmpPath(`blob-${digestHex(d.digest).slice(0, 12)}`);
      try {
        const started = now();
        await client.downloadBlob(d, tmp.path);
        await rename(tmp.path, layout.blob(d.digest));
        log.debug({ digest: d.digest, bytes: d.size, ms: now() - started }, 'blob verified and stored');
      } finally {
        await rm(tmp.path, { force: true });
        tmp.release();
      }
    });
  }

  /** Moves an already hashed file into the blob store (imports). */
  function ingestFile(file: ArchiveFile): Promise<void> {
    return once(`blob:${file.digest}`, async () => {
      if (await haveBlob(file.digest, file.size)) return;
      await rename(file.path, layout.blob(file.digest));
    });
  }

  /** What the store keeps of an image, pulled or imported. */
  function imageRecord(
    id: string, layers: readonly { digest: string; size: number }[], config: ParsedImageConfig, manifestDigest: string | null, repoDigests: string[],
  ): ImageRecord {
    return {
      id, manifestDigest, repoDigests,
      size: layers.reduce((sum, l) => sum + l.size, 0),
      architecture: config.architecture,
      os: config.os,
      config: config.config,
      layers: layers.map((l) => l.digest),
      diffIds: config.diffIds,
      createdAt: config.createdAt,
    };
  }

  async function readConfig(digest: string, what: string): Promise<ParsedImageConfig> {
    const st = await statOrNull(layout.blob(digest));
    if (!st) throw new KumoError('ERR_INTERNAL', `${what}: config blob ${digest} is missing from the store`);
    if (st.size > MAX_CONFIG_BYTES) throw new KumoError('ERR_VALIDATION', `${what}: the image config is larger than ${MAX_CONFIG_BYTES} bytes`);
    return parseImageConfig(await readFile(layout.blob(digest)), what);
  }

  /** Unpacks the layer unless it already is; true when this call created it. */
  function ensureLayer(digest: string, diffId: string | null): Promise<boolean> {
    return once(`layer:${digest}`, async () => {
      const final = layout.layer(digest);
      if (await statOrNull(final)) return false;
      if (!(await haveBlob(digest, null))) {
        throw new KumoError('ERR_INTERNAL', `layer ${digest} is neither unpacked nor stored; pull the image again`);
      }
      const staging = tmpPath(`layer-${digestHex(digest).slice(0, 12)}`);
      const started = now();
      try {
        await mkdir(staging.path, { mode: 0o700 });
        const result = await unpackLayer({
          blobFile: layout.blob(digest),
          target: staging.path,
          layerDigest: digest,
          diffId,
          preserveOwnership,
          applyWhiteouts,
          scratchDir: layout.tmpDir,
          makeNode: async (path, entry) => {
            const kind = entry.type === 'char' ? 'c' : entry.type === 'block' ? 'b' : 'p';
            const argv = ['mknod', '-m', (entry.mode & 0o7777).toString(8), path, kind, ...(kind === 'p' ? [] : [String(entry.devmajor), String(entry.devminor)])];
            const r = await run(argv);
            if (r.code !== 0) throw new KumoError('ERR_INTERNAL', `cannot create device node ${entry.name}: ${failureText(r)}`);
          },
          logger: log,
        });
        try {
          await rename(staging.path, final);
        } catch (err) {
          // Another process unpacked it first; its copy is as good as ours.
          if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST') throw err;
          return false;
        }
        log.debug({ digest, entries: result.entries, whiteouts: result.whiteouts, opaqueDirs: result.opaqueDirs, ms: now() - started }, 'layer unpacked');
        return true;
      } finally {
        await rm(staging.path, { recursive: true, force: true });
        staging.release();
      }
    });
  }

  // ---- records, names, root filesystems

  async function rootfsMetas(): Promise<Map<string, RootfsMeta>> {
    const metas = new Map<string, RootfsMeta>();
    for (const name of await readdirOrEmpty(layout.containersDir)) {
      try {
        metas.set(name, JSON.parse(await readFile(join(layout.containersDir, name, CONTAINER_FILES.meta), 'utf8')) as RootfsMeta);
      } catch (err) {
        if (errno(err) !== 'ENOENT') log.warn({ dir: name, err: (err as Error).message }, 'unreadable root filesystem record');
      }
    }
    return metas;
  }

  /** Digests nothing may delete: what records and root filesystems reference, and what operations hold. */
  async function referencedDigests(): Promise<Set<string>> {
    const keep = new Set<string>(pins.keys());
    for (const r of await records.readAll()) {
      keep.add(r.id);
      for (const l of r.layers) keep.add(l);
    }
    for (const meta of (await rootfsMetas()).values()) {
      keep.add(meta.imageId);
      for (const l of meta.layers ?? []) keep.add(l);
    }
    return keep;
  }

  /** After a failed pull or import: the layers it unpacked that nothing else wants go again. */
  async function rollbackLayers(created: readonly string[]): Promise<void> {
    if (created.length === 0) return;
    await locked(async () => {
      const keep = await referencedDigests();
      for (const digest of created) {
        // Our own pin is still held; another operation's makes the count 2.
        if ((pins.get(digest) ?? 0) > 1 || (keep.has(digest) && !pins.has(digest))) continue;
        if ((await records.readAll()).some((r) => r.layers.includes(digest))) continue;
        await rm(layout.layer(digest), { recursive: true, force: true });
      }
    }).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'rollback of unpacked layers failed; garbageCollect removes them'));
  }

  interface Resolved {
    readonly record: ImageRecord;
    readonly names: NameIndex;
    /** The name it was found by, when it was found by a tag. */
    readonly byName: string | null;
  }

  async function resolveImage(idOrName: string): Promise<Resolved | null> {
    if (typeof idOrName !== 'string' || idOrName.trim() === '') throw new KumoError('ERR_VALIDATION', 'an image id or name is required');
    const query = idOrName.trim();
    const names = await records.names();
    if (isDigest(query)) {
      const record = await records.read(query);
      if (record) return { record, names, byName: null };
    }
    let ref: ImageReference | null = null;
    try {
      ref = parseReference(query);
    } catch {
      ref = null;
    }
    if (ref?.digest) {
      const wanted = `${repositoryName(ref)}@${ref.digest}`;
      const record = (await records.readAll()).find((r) => r.repoDigests.includes(wanted));
      if (record) return { record, names, byName: null };
    } else if (ref) {
      const id = names[referenceName(ref)];
      const record = id ? await records.read(id) : null;
      if (record) return { record, names, byName: referenceName(ref) };
    }
    const hex = query.startsWith('sha256:') ? query.slice('sha256:'.length) : query;
    if (/^[a-f0-9]{1,64}$/.test(hex)) {
      const ids = (await readdirOrEmpty(layout.imagesDir)).filter((f) => /^[a-f0-9]{64}\.json$/.test(f) && f.startsWith(hex));
      if (ids.length > 1) throw new KumoError('ERR_CONFLICT', `image id prefix ${query} is ambiguous: it matches ${ids.length} images`);
      const record = ids.length ? await records.read(`sha256:${ids[0].slice(0, 64)}`) : null;
      if (record) return { record, names, byName: null };
    }
    return null;
  }

  async function isMounted(path: string): Promise<boolean> {
    // A test's mount table is asked; the host's is answered by stat (see isMountPoint).
    if (!deps.mounts) return isMountPoint(path);
    return (await mounts()).some((m) => m.mountPoint === path);
  }

  async function saveRecordAndName(record: ImageRecord, refs: readonly ImageReference[]): Promise<StoredImage> {
    const existing = await records.read(record.id);
    const merged: ImageRecord = {
      ...record,
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...record.repoDigests])].sort(),
      manifestDigest: record.manifestDigest ?? existing?.manifestDigest ?? null,
    };
    await records.write(merged);
    const names: Record<string, string> = { ...(await records.names()) };
    // A tag names one image: pulling it again moves it, as `docker pull` does.
    for (const ref of refs) if (ref.tag !== null) names[referenceName(ref)] = record.id;
    await records.writeNames(names);
    return toStoredImage(merged, names);
  }

  // ---- the interface

  const store: ImageStore = {
    async pull(reference, pullOptions: PullOptions = {}) {
      const started = now();
      const ref = parseReference(reference);
      const platform = pullOptions.platform ?? deps.platform ?? hostPlatform();
      await ready();
      const what = `image ${familiarName(ref)} in registry ${ref.registry}`;
      const client = createRegistryClient(
        { ref, insecureRegistries: options.insecureRegistries, ...(pullOptions.auth ? { credentials: pullOptions.auth } : {}), ...(deps.fetch ? { fetch: deps.fetch } : {}) },
        log,
      );
      await client.ping();
      const top = await client.getManifest(ref.digest ?? (ref.tag as string));
      let manifest = parseManifest(top.body, top.contentType, what);
      let manifestDigest = top.digest;
      if (manifest.kind === 'index') {
        const chosen = selectPlatform(manifest, platform, what);
        const inner = await client.getManifest(chosen.digest);
        manifest = parseManifest(inner.body, inner.contentType, `${what} (${formatPlatform(platform)})`);
        if (manifest.kind === 'index') throw new KumoError('ERR_VALIDATION', `${what}: an index entry points at another index, which Kumo does not follow`);
        manifestDigest = chosen.digest;
      }
      const image = manifest;
      const unpin = pin([image.config.digest, ...image.layers.map((l) => l.digest)]);
      const created: string[] = [];
      try {
        await downloadBlob(client, image.config);
        const config = await readConfig(image.config.digest, what);
        if (config.diffIds.length !== image.layers.length) {
          throw new KumoError('ERR_VALIDATION', `${what}: the manifest has ${image.layers.length} layers, the config ${config.diffIds.length} diff ids`);
        }
        if (config.architecture && config.architecture !== platform.architecture) {
          log.warn({ reference, architecture: config.architecture, host: platform.architecture }, 'image is built for another architecture');
        }
        await mapLimit(image.layers, PARALLEL_DOWNLOADS, (l) => downloadBlob(client, l));
        for (const [i, l] of image.layers.entries()) if (await ensureLayer(l.digest, config.diffIds[i])) created.push(l.digest);
        const record = imageRecord(image.config.digest, image.layers, config, manifestDigest, [`${repositoryName(ref)}@${manifestDigest}`]);
        const stored = await locked(() => saveRecordAndName(record, [ref]));
        log.info({ reference: referenceName(ref), id: stored.id, layers: stored.layers.length, bytes: stored.size, ms: now() - started }, 'image pulled');
        return stored;
      } catch (err) {
        await rollbackLayers(created);
        throw err;
      } finally {
        unpin();
      }
    },

    async importArchive(path) {
      await ready();
      const started = now();
      const work = tmpPath('import');
      const unpins: (() => void)[] = [];
      const created: string[] = [];
      try {
        const extracted = await extractArchive(path, work.path);
        const images = await archiveImages(extracted, path, deps.platform ?? hostPlatform());
        const planned = images.map((img) => ({ img, refs: img.names.map((n) => parseReference(n)) }));
        const toSave: { record: ImageRecord; refs: ImageReference[] }[] = [];
        for (const { img, refs } of planned) {
          unpins.push(pin([img.config.digest, ...img.layers.map((l) => l.digest)]));
          for (const file of [img.config, ...img.layers]) await ingestFile(file);
          const what = `image ${img.config.digest} in ${path}`;
          const config = await readConfig(img.config.digest, what);
          if (config.diffIds.length !== img.layers.length) {
            throw new KumoError('ERR_VALIDATION', `${what}: ${img.layers.length} layer files, but the config has ${config.diffIds.length} diff ids`);
          }
          for (const [i, l] of img.layers.entries()) if (await ensureLayer(l.digest, config.diffIds[i])) created.push(l.digest);
          toSave.push({
            refs,
            record: imageRecord(img.config.digest, img.layers, config, img.manifestDigest, []),
          });
        }
        // Records last, all together: an archive that fails anywhere above leaves no image behind.
        const stored = await locked(async () => {
          const out: StoredImage[] = [];
          for (const { record, refs } of toSave) out.push(await saveRecordAndName(record, refs));
          const names = await records.names();
          return out.map((s) => ({ ...s, repoTags: Object.keys(names).filter((n) => names[n] === s.id).sort() }));
        });
        log.info({ archive: path, images: stored.map((s) => s.id), ms: now() - started }, 'image archive imported');
        return stored;
      } catch (err) {
        await rollbackLayers(created);
        throw err;
      } finally {
        for (const unpin of unpins) unpin();
        await rm(work.path, { recursive: true, force: true });
        work.release();
      }
    },

    async list() {
      await ready();
      const [all, names] = await Promise.all([records.readAll(), records.names()]);
      return all.map((r) => toStoredImage(r, names)).sort((a, b) => (a.repoTags[0] ?? '~').localeCompare(b.repoTags[0] ?? '~') || a.id.localeCompare(b.id));
    },

    async get(idOrName) {
      await ready();
      const found = await resolveImage(idOrName);
      return found ? toStoredImage(found.record, found.names) : null;
    },

    async remove(idOrName) {
      await ready();
      await locked(async () => {
        const found = await resolveImage(idOrName);
        if (!found) throw notFound(`image ${idOrName} not found`);
        const { record, byName } = found;
        const names: Record<string, string> = { ...found.names };
        const ownNames = Object.keys(names).filter((n) => names[n] === record.id);
        if (byName !== null && ownNames.length > 1) {
          // Other names still point at it: only this tag goes, as `docker rmi repo:tag` does.
          delete names[byName];
          await records.writeNames(names);
          log.info({ name: byName, id: record.id }, 'image name removed');
          return;
        }
        const users = [...(await rootfsMetas()).entries()].filter(([, m]) => m.imageId === record.id).map(([dir]) => dir);
        if (users.length > 0) {
          throw new KumoError('ERR_CONFLICT', `image ${idOrName} (${record.id}) is in use by the root filesystem of ${users.length === 1 ? 'container' : 'containers'} ${users.join(', ')}`);
        }
        for (const n of ownNames) delete names[n];
        await records.writeNames(names);
        await records.delete(record.id);
        log.info({ id: record.id, names: ownNames }, 'image removed');
      });
    },

    async mountRootfs(imageId, containerId) {
      const id = parseContainerId(containerId);
      return perContainer(id, async () => {
        await ready();
        const found = await resolveImage(imageId);
        if (!found) throw notFound(`image ${imageId} not found`);
        const image = found.record;
        const dir = layout.containerDir(id);
        const rootfs = join(dir, CONTAINER_FILES.rootfs);
        if (await isMounted(rootfs)) {
          const meta = await readFile(join(dir, CONTAINER_FILES.meta), 'utf8').then((t) => JSON.parse(t) as RootfsMeta, () => null);
          if (meta && meta.imageId !== image.id) throw new KumoError('ERR_CONFLICT', `container ${id} already has a root filesystem from image ${meta.imageId}`);
          return rootfs;
        }
        const unpin = pin([image.id, ...image.layers]);
        const createdDir = (await statOrNull(dir)) === null;
        let mounted = false;
        try {
          for (const [i, l] of image.layers.entries()) await ensureLayer(l, image.diffIds[i] ?? null);
          await locked(async () => {
            if (!(await records.read(image.id))) throw notFound(`image ${imageId} was removed`);
            const metaFile = join(dir, CONTAINER_FILES.meta);
            const previous = await readFile(metaFile, 'utf8').then((t) => JSON.parse(t) as RootfsMeta, () => null);
            if (previous && previous.imageId !== image.id) {
              throw new KumoError('ERR_CONFLICT', `container ${id} already has a root filesystem from image ${previous.imageId}`);
            }
            for (const sub of [CONTAINER_FILES.upper, CONTAINER_FILES.work, CONTAINER_FILES.rootfs]) await mkdir(join(dir, sub), { recursive: true, mode: 0o755 });
            await writeAtomically(metaFile, `${JSON.stringify({ imageId: image.id, layers: image.layers } satisfies RootfsMeta)}\n`);
          });
          // Every path relative to the layers dir: the kernel shows the options as given in every
          // read of mountinfo, and runc reads the host's whole mountinfo several times per container.
          const argv = overlayMountArgv({
            lowerDirs: lowerDirsTopFirst(image.layers),
            upperDir: relative(layout.layersDir, join(dir, CONTAINER_FILES.upper)),
            workDir: relative(layout.layersDir, join(dir, CONTAINER_FILES.work)),
            target: rootfs,
            source: `kumo-${owner}`,
          });
          const result = await run(argv, { cwd: layout.layersDir });
          if (result.code !== 0) throw new KumoError('ERR_INTERNAL', `cannot mount the root filesystem of container ${id}: ${failureText(result)}`);
          mounted = true;
          log.info({ container: id, image: image.id }, 'root filesystem mounted');
          return rootfs;
        } finally {
          unpin();
          if (!mounted && createdDir) await rm(dir, { recursive: true, force: true });
        }
      });
    },

    async removeRootfs(containerId) {
      const id = parseContainerId(containerId);
      return perContainer(id, async () => {
        const dir = layout.containerDir(id);
        const rootfs = join(dir, CONTAINER_FILES.rootfs);
        // Stacked mounts (a mount repeated by hand) come off one per umount.
        for (let i = 0; i < 8 && (await isMounted(rootfs)); i++) {
          const result = await run(umountArgv(rootfs));
          if (result.code !== 0 && (await isMounted(rootfs))) {
            throw new KumoError('ERR_CONFLICT', `cannot unmount the root filesystem of container ${id}: ${failureText(result)}`);
          }
        }
        if (await isMounted(rootfs)) throw new KumoError('ERR_INTERNAL', `the root filesystem of container ${id} is still mounted`);
        await rm(dir, { recursive: true, force: true });
        log.info({ container: id }, 'root filesystem removed');
      });
    },

    async listRootfs() {
      const ids: string[] = [];
      for (const name of await readdirOrEmpty(layout.containersDir)) {
        const id = layout.parseContainerDirName(name);
        if (id) ids.push(id);
      }
      return ids.sort();
    },

    async garbageCollect() {
      await ready();
      return locked(async () => {
        const keep = await referencedDigests();
        let freedBytes = 0;
        let removedLayers = 0;
        let removedBlobs = 0;
        for (const name of await readdirOrEmpty(layout.layersDir)) {
          if (!/^[a-f0-9]{64}$/.test(name) || keep.has(`sha256:${name}`)) continue;
          const path = join(layout.layersDir, name);
          freedBytes += await diskUsage(path).catch(() => 0);
          await rm(path, { recursive: true, force: true });
          removedLayers++;
        }
        for (const name of await readdirOrEmpty(layout.blobsDir)) {
          if (!/^[a-f0-9]{64}$/.test(name) || keep.has(`sha256:${name}`)) continue;
          const path = join(layout.blobsDir, name);
          freedBytes += (await statOrNull(path))?.size ?? 0;
          await rm(path, { force: true });
          removedBlobs++;
        }
        const mountPoints = (await mounts()).map((m) => m.mountPoint);
        for (const name of await readdirOrEmpty(layout.tmpDir)) {
          if (activeTmp.has(name)) continue;
          const path = join(layout.tmpDir, name);
          const st = await statOrNull(path);
          if (!st || now() - st.mtimeMs <= TMP_DEBRIS_AGE_MS) continue;
          // A crash during whiteout creation can leave its scratch overlay mounted.
          for (const mp of mountPoints.filter((m) => m.startsWith(`${path}/`)).sort((a, b) => b.length - a.length)) await run(umountArgv(mp));
          await rm(path, { recursive: true, force: true });
        }
        log.info({ removedLayers, removedBlobs, freedBytes }, 'image store garbage collected');
        return { removedLayers, freedBytes };
      });
    },
  };
  return store;
}
