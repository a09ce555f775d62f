/**
 * What the host says about this driver's container mounts, and the reconciling of it with the
 * driver's records: the parse of blkid's output, the loop devices as /sys/block shows them, the
 * attachment record files, and `reconcileMounts`, a pure function from (records, mount table,
 * loop devices) to the mounts that exist and the leftovers a crash made.
 *
 * Reality wins over records: a mount of one of our volume files' loop devices at one of our
 * attachment dirs is ours whether or not its record was written (Kumo killed between `mount` and
 * the record), so a restart neither leaks it nor loses track of it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MountEntry } from '../../../lib/mountinfo.js';
import type { ContainerMount } from '../types.js';
import { idOfRawFile, isBlockId, mountDir, mountRecordFile, type BlockPaths } from './argv.js';

/** `blkid -o export` output (KEY=value lines) as a map. */
export function parseBlkidExport(text: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) result.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return result;
}

/** What a volume's device holds, from `blkid -p` (status 2: no signature at all). */
export type DeviceContent =
  | { readonly kind: 'empty' }
  | { readonly kind: 'filesystem'; readonly fsType: string }
  | { readonly kind: 'other'; readonly what: string };

export function deviceContent(blkidStatus: number, stdout: string): DeviceContent | null {
  if (blkidStatus === 2) return { kind: 'empty' };
  // 8: several signatures that contradict each other; not something to mount, nor to format over.
  if (blkidStatus === 8) return { kind: 'other', what: 'ambiguous signatures' };
  if (blkidStatus !== 0) return null;
  const tags = parseBlkidExport(stdout);
  const type = tags.get('TYPE');
  if (type && (tags.get('USAGE') ?? 'filesystem') === 'filesystem') return { kind: 'filesystem', fsType: type };
  if (tags.has('PTTYPE')) return { kind: 'other', what: `a ${tags.get('PTTYPE')} partition table` };
  return { kind: 'other', what: type ? `${type} (${tags.get('USAGE')})` : 'an unknown signature' };
}

export interface LoopDevice {
  /** e.g. /dev/loop3 */
  readonly device: string;
  /** The backing file's path, without the " (deleted)" the kernel adds once it is unlinked. */
  readonly backingFile: string;
  readonly deleted: boolean;
  readonly readOnly: boolean;
}

/** The kernel's backing_file attribute: a path, with " (deleted)" appended once the file is unlinked. */
export function parseBackingFile(text: string): { file: string; deleted: boolean } {
  const line = text.replace(/\n$/, '');
  return line.endsWith(' (deleted)') ? { file: line.slice(0, -' (deleted)'.length), deleted: true } : { file: line, deleted: false };
}

/**
 * The bound loop devices, read from `<sysBlock>/loopN/loop/backing_file` and `.../ro` (present
 * only while a file is bound): what `losetup --list` prints, without starting a process.
 */
export async function readLoopDevices(sysBlock = '/sys/block'): Promise<LoopDevice[]> {
  let names: string[];
  try {
    names = (await readdir(sysBlock)).filter((n) => /^loop\d+$/.test(n));
  } catch {
    return [];
  }
  const loops = await Promise.all(names.map(async (name): Promise<LoopDevice | null> => {
    try {
      const [backing, ro] = await Promise.all([
        readFile(path.join(sysBlock, name, 'loop', 'backing_file'), 'utf8'),
        readFile(path.join(sysBlock, name, 'ro'), 'utf8').catch(() => '0'),
      ]);
      const { file, deleted } = parseBackingFile(backing);
      return { device: `/dev/${name}`, backingFile: file, deleted, readOnly: ro.trim() === '1' };
    } catch {
      return null;
    }
  }));
  return loops.filter((l): l is LoopDevice => l !== null);
}

/** Linux capability numbers (capability.h). */
export const CAP_SYS_RESOURCE = 24;

/** Whether /proc/<pid>/status text shows `capability` among the effective ones. */
export function hasEffectiveCapability(status: string, capability: number): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(capability)) & 1n) === 1n;
}

/** `<attachmentId>.json`: what a mount was made of. */
export interface MountRecord {
  readonly attachmentId: string;
  readonly volumeId: string;
  readonly loopDevice: string;
  readonly readOnly: boolean;
}

export function parseMountRecord(attachmentId: string, text: string): MountRecord | null {
  try {
    const j = JSON.parse(text) as Partial<MountRecord>;
    if (typeof j.volumeId !== 'string' || !isBlockId(j.volumeId) || typeof j.loopDevice !== 'string' || typeof j.readOnly !== 'boolean') return null;
    return { attachmentId, volumeId: j.volumeId, loopDevice: j.loopDevice, readOnly: j.readOnly };
  } catch {
    return null;
  }
}

export function formatMountRecord(r: MountRecord): string {
  return `${JSON.stringify({ volumeId: r.volumeId, loopDevice: r.loopDevice, readOnly: r.readOnly })}\n`;
}

/** Every record file of the mounts dir; an unreadable one counts as a record with nothing known (it is cleaned up as stale). */
export async function readMountRecords(p: BlockPaths): Promise<Map<string, MountRecord | null>> {
  const records = new Map<string, MountRecord | null>();
  let names: string[];
  try {
    names = await readdir(p.mounts);
  } catch {
    return records;
  }
  for (const name of names) {
    const m = /^(.+)\.json$/.exec(name);
    if (!m || !isBlockId(m[1])) continue;
    const text = await readFile(path.join(p.mounts, name), 'utf8').catch(() => null);
    if (text !== null) records.set(m[1], parseMountRecord(m[1], text));
  }
  return records;
}

/** Written under a temporary name and renamed: a crash leaves the old record or the new one, never half of one. */
export async function writeMountRecord(p: BlockPaths, r: MountRecord): Promise<void> {
  const file = mountRecordFile(p, r.attachmentId);
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, formatMountRecord(r), { mode: 0o600 });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

export interface MountState {
  /** Every mount this driver made that exists: one of our loop devices mounted at one of our attachment dirs. */
  readonly live: readonly ContainerMount[];
  /** Those of `live` whose record is missing or says something else. */
  readonly unrecorded: readonly ContainerMount[];
  /** Attachment ids with a record and no mount. */
  readonly staleRecords: readonly string[];
  /** Loop devices over our volume files that nothing in the mount table uses. */
  readonly idleLoops: readonly LoopDevice[];
}

export function reconcileMounts(
  p: BlockPaths, records: ReadonlyMap<string, MountRecord | null>, mounts: readonly MountEntry[], loops: readonly LoopDevice[],
): MountState {
  const ours = new Map<string, { loop: LoopDevice; volumeId: string }>();
  for (const loop of loops) {
    const volumeId = idOfRawFile(p.volumes, loop.backingFile);
    if (volumeId) ours.set(loop.device, { loop, volumeId });
  }
  const live: ContainerMount[] = [];
  const unrecorded: ContainerMount[] = [];
  const used = new Set<string>();
  for (const m of mounts) {
    used.add(m.source);
    const bound = ours.get(m.source);
    if (!bound || path.dirname(m.mountPoint) !== p.mounts) continue;
    const attachmentId = path.basename(m.mountPoint);
    if (!isBlockId(attachmentId) || live.some((l) => l.attachmentId === attachmentId)) continue;
    const mount: ContainerMount = { attachmentId, volumeId: bound.volumeId, hostPath: mountDir(p, attachmentId), loopDevice: m.source, readOnly: bound.loop.readOnly };
    live.push(mount);
    const r = records.get(attachmentId);
    if (!r || r.volumeId !== mount.volumeId || r.loopDevice !== mount.loopDevice || r.readOnly !== mount.readOnly) unrecorded.push(mount);
  }
  const staleRecords = [...records.keys()].filter((id) => !live.some((l) => l.attachmentId === id));
  const idleLoops = [...ours.values()].filter(({ loop }) => !used.has(loop.device)).map(({ loop }) => loop);
  return { live, unrecorded, staleRecords, idleLoops };
}
