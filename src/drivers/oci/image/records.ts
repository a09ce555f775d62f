/**
 * Image records (one JSON file per image, named by its id) and the name index
 * (`registry/repository:tag` -> id), each written to a temp file and renamed, so a reader sees
 * the old or the new file, never half of one. Callers serialise writers.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { ImageRuntimeConfig, StoredImage } from '../types.js';
import { isDigest } from './digest.js';
import type { StoreLayout } from './layout.js';

/** What an image's JSON file holds: StoredImage without the names (those live in the index). */
export interface ImageRecord {
  readonly id: string;
  readonly manifestDigest: string | null;
  /** `registry/repository@sha256:...` references it was pulled by. */
  readonly repoDigests: readonly string[];
  readonly size: number;
  readonly architecture: string;
  readonly os: string;
  readonly config: ImageRuntimeConfig;
  readonly layers: readonly string[];
  readonly diffIds: readonly string[];
  readonly createdAt: string | null;
}

export type NameIndex = Readonly<Record<string, string>>;

export async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function toStoredImage(record: ImageRecord, names: NameIndex): StoredImage {
  return {
    id: record.id,
    manifestDigest: record.manifestDigest,
    repoTags: Object.keys(names).filter((n) => names[n] === record.id).sort(),
    size: record.size,
    architecture: record.architecture,
    os: record.os,
    config: record.config,
    layers: record.layers,
    createdAt: record.createdAt,
  };
}

export function createRecordStore(layout: StoreLayout) {
  return {
    async read(id: string): Promise<ImageRecord | null> {
      const doc = (await readJson(layout.imageRecord(id))) as ImageRecord | null;
      return doc && doc.id === id ? doc : null;
    },
    async readAll(): Promise<ImageRecord[]> {
      let files: string[];
      try {
        files = await readdir(layout.imagesDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const ids = files.filter((f) => /^[a-f0-9]{64}\.json$/.test(f)).map((f) => `sha256:${f.slice(0, 64)}`);
      const records = await Promise.all(ids.map((id) => this.read(id)));
      return records.filter((r): r is ImageRecord => r !== null);
    },
    async write(record: ImageRecord): Promise<void> {
      await writeAtomically(layout.imageRecord(record.id), `${JSON.stringify(record, null, 1)}\n`);
    },
    async delete(id: string): Promise<void> {
      await rm(layout.imageRecord(id), { force: true });
    },
    async names(): Promise<NameIndex> {
      const doc = (await readJson(layout.namesFile)) as { names?: Record<string, unknown> } | null;
      const names: Record<string, string> = {};
      for (const [name, id] of Object.entries(doc?.names ?? {})) if (isDigest(id)) names[name] = id;
      return names;
    },
    async writeNames(names: NameIndex): Promise<void> {
      const sorted = Object.fromEntries(Object.entries(names).sort(([a], [b]) => a.localeCompare(b)));
      await writeAtomically(layout.namesFile, `${JSON.stringify({ version: 1, names: sorted }, null, 1)}\n`);
    },
  };
}

export type RecordStore = ReturnType<typeof createRecordStore>;
