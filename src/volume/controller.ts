/**
 * The volume controller: on its host, drives the BlockStorage to what the store wants — makes
 * the files of `creating` volumes and snapshots (blank, from an image, a snapshot or a volume),
 * removes those being deleted and then their rows, grows volumes, exports volumes into images —
 * and writes back `available`/`in-use`/`error` with a reason. It heartbeats the host's service row
 * (capacity from `probe()`) that the scheduler reads. After a crash a pass repairs what it finds:
 * temporary files go, files no row wants go (after a grace), rows whose file vanished go to error,
 * container mounts no attachment wants are unmounted.
 * @module
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Controller } from '../agent/agent.js';
import type { BlockStorage, VolumeSource } from '../drivers/block/types.js';
import { rollingPool } from '../lib/rolling-pool.js';
import { readRevision } from '../store/revision.js';
import { GIB, isoNow, markVolumeStatusChanged, VOLUME_REVISION } from './context.js';
import type { VolumeDeps } from './context.js';
import { heartbeat } from './hosts.js';
import { discardUploadImage, imageContent, uploadImageFile } from './image-access.js';
import { STATUS_RESET } from './snapshots.js';
import { pendingOf } from './volumes.js';
import type { VolumeRow } from './volumes.js';


/** Volume operations carried out at the same time (qemu-img and the disk are the limits on a small host). */
const PARALLEL = 2;
export interface VolumeHost {
  readonly host: string;
  readonly storage: BlockStorage;
  /** Where exports wait on their way to the image service. */
  readonly exportDir: string;
  /** How often the service row is refreshed (default 10 s). */
  readonly heartbeatMs?: number;
  /** How long a file with no row is left alone before it is removed (default 60 s). */
  readonly orphanGraceMs?: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function volumeController(deps: VolumeDeps, host: VolumeHost): Controller {
  const log = deps.logger.child({ host: host.host, controller: 'volume' });
  const { storage } = host;
  const heartbeatMs = host.heartbeatMs ?? 10_000;
  const graceMs = host.orphanGraceMs ?? 60_000;
  let lastBeat = -Infinity;
  let started = false;
  /** Files with no row, and when a pass first saw them so. */
  const orphansSince = new Map<string, number>();

  /** Writes `patch` only while the row is still in `from` (an API change in between wins). */
  const move = async (id: string, from: string, patch: Partial<VolumeRow>): Promise<boolean> => {
    const r = await deps.db.updateTable('volume_volume').set({ ...patch, updated_at: isoNow(deps) }).where('id', '=', id).where('status', '=', from).executeTakeFirst();
    const moved = Number(r.numUpdatedRows) === 1;
    if (moved) await markVolumeStatusChanged(deps);
    return moved;
  };
  const moveSnapshot = async (id: string, from: string, patch: { status: string; status_reason?: string | null }) => {
    await deps.db.updateTable('volume_snapshot').set({ ...patch, updated_at: isoNow(deps) }).where('id', '=', id).where('status', '=', from).execute();
  };
  /** in-use when the volume has attachments, else available. */
  const restingStatus = async (volumeId: string): Promise<string> =>
    (await deps.db.selectFrom('volume_attachment').select('id').where('volume_id', '=', volumeId).executeTakeFirst()) ? 'in-use' : 'available';

  async function beat(): Promise<void> {
    if (deps.now() - lastBeat < heartbeatMs) return;
    const info = await storage.probe();
    await heartbeat(deps, host.host, { totalBytes: info.totalBytes, freeBytes: info.freeBytes, volumeDir: info.volumeDir });
    lastBeat = deps.now();
  }

  async function create(v: VolumeRow): Promise<void> {
    try {
      let source: VolumeSource | undefined;
      if (v.image_id) source = { kind: 'image', image: await imageContent(deps, v.image_id) };
      else if (v.snapshot_id) source = { kind: 'snapshot', snapshotId: v.snapshot_id };
      else if (v.source_volid) source = { kind: 'volume', volumeId: v.source_volid };
      await storage.createVolume(v.id, v.size * GIB, source);
      await move(v.id, 'creating', { status: 'available', status_reason: null });
    } catch (err) {
      log.warn({ volume: v.id, err: message(err) }, 'volume create failed');
      await move(v.id, 'creating', { status: 'error', status_reason: message(err) });
    }
  }

  async function remove(v: VolumeRow): Promise<void> {
    try {
      const snaps = await deps.db.selectFrom('volume_snapshot').select('id').where('volume_id', '=', v.id).execute();
      for (const s of snaps) {
        await storage.deleteSnapshot(s.id);
        await deps.db.deleteFrom('volume_snapshot').where('id', '=', s.id).execute();
      }
      await storage.deleteVolume(v.id);
      await deps.db.deleteFrom('volume_volume').where('id', '=', v.id).where('status', '=', 'deleting').execute();
    } catch (err) {
      log.warn({ volume: v.id, err: message(err) }, 'volume delete failed');
      await move(v.id, 'deleting', { status: 'error_deleting', status_reason: message(err) });
    }
  }

  async function extend(v: VolumeRow, newSize: number): Promise<void> {
    try {
      await storage.extendVolume(v.id, newSize * GIB);
      await move(v.id, 'extending', { status: await restingStatus(v.id), size: newSize, pending: null, status_reason: null });
    } catch (err) {
      log.warn({ volume: v.id, err: message(err) }, 'volume extend failed');
      await move(v.id, 'extending', { status: 'error_extending', pending: null, status_reason: message(err) });
    }
  }

  async function upload(v: VolumeRow, imageId: string, format: 'raw' | 'qcow2'): Promise<void> {
    await mkdir(host.exportDir, { recursive: true });
    const file = join(host.exportDir, `${v.id}.${imageId}.${format}`);
    try {
      await storage.exportVolume(v.id, format, file);
      await uploadImageFile(deps, imageId, file);
      await move(v.id, 'uploading', { status: await restingStatus(v.id), pending: null, status_reason: null });
    } catch (err) {
      log.warn({ volume: v.id, image: imageId, err: message(err) }, 'volume upload to image failed');
      await discardUploadImage(deps, imageId);
      // As Cinder: the volume is usable again, the failure is recorded.
      await move(v.id, 'uploading', { status: await restingStatus(v.id), pending: null, status_reason: `upload to image ${imageId} failed: ${message(err)}` });
    } finally {
      await rm(file, { force: true });
    }
  }

  async function reconcileOrphans(volumeIds: readonly string[], snapshotIds: readonly string[]): Promise<void> {
    const now = deps.now();
    const knownVolumes = new Set((await deps.db.selectFrom('volume_volume').select('id').where('id', 'in', volumeIds.length ? [...volumeIds] : ['']).execute()).map((r) => r.id));
    const knownSnaps = new Set((await deps.db.selectFrom('volume_snapshot').select('id').where('id', 'in', snapshotIds.length ? [...snapshotIds] : ['']).execute()).map((r) => r.id));
    const seen = new Set<string>();
    const due = (key: string) => {
      seen.add(key);
      const since = orphansSince.get(key);
      if (since === undefined) orphansSince.set(key, now);
      return since !== undefined && now - since >= graceMs;
    };
    for (const id of volumeIds) {
      if (knownVolumes.has(id) || !due(`v:${id}`)) continue;
      log.info({ volume: id }, 'removing a volume file no volume owns');
      await storage.deleteVolume(id).catch((err: unknown) => log.warn({ volume: id, err: message(err) }, 'could not remove an orphaned volume file'));
    }
    for (const id of snapshotIds) {
      if (knownSnaps.has(id) || !due(`s:${id}`)) continue;
      log.info({ snapshot: id }, 'removing a snapshot file no snapshot owns');
      await storage.deleteSnapshot(id).catch((err: unknown) => log.warn({ snapshot: id, err: message(err) }, 'could not remove an orphaned snapshot file'));
    }
    for (const key of [...orphansSince.keys()]) if (!seen.has(key)) orphansSince.delete(key);
  }

  async function reconcileMounts(): Promise<void> {
    const mounts = await storage.listContainerMounts();
    if (!mounts.length) return;
    const wanted = new Set((await deps.db.selectFrom('volume_attachment').select('id').where('id', 'in', mounts.map((m) => m.attachmentId)).execute()).map((r) => r.id));
    for (const m of mounts) {
      if (wanted.has(m.attachmentId)) continue;
      log.info({ attachment: m.attachmentId, volume: m.volumeId }, 'unmounting a container mount no attachment wants');
      await storage.unmountForContainer(m.attachmentId);
    }
  }

  return {
    name: 'volume',
    revision: () => readRevision(deps.db, VOLUME_REVISION),
    async reconcile() {
      await beat();
      if (!started) {
        await storage.removeTemporaryFiles();
        started = true;
      }
      // Read before the rows: a change made after the rows were read moves it past this.
      const revision = await readRevision(deps.db, VOLUME_REVISION);
      const volumes = await deps.db.selectFrom('volume_volume').selectAll().where('host', '=', host.host).execute();
      const snapshots = await deps.db.selectFrom('volume_snapshot').selectAll().where('host', '=', host.host).execute();
      // Snapshots first: a volume made from a snapshot needs its file, a volume being deleted takes its snapshots with it.
      for (const s of snapshots) {
        if (s.status_reason === STATUS_RESET) continue;
        if (s.status === 'creating') {
          try {
            await storage.createSnapshot(s.id, s.volume_id);
            await moveSnapshot(s.id, 'creating', { status: 'available', status_reason: null });
          } catch (err) {
            log.warn({ snapshot: s.id, err: message(err) }, 'snapshot create failed');
            await moveSnapshot(s.id, 'creating', { status: 'error', status_reason: message(err) });
          }
        } else if (s.status === 'deleting' && !volumes.some((v) => v.id === s.volume_id && v.status === 'deleting')) {
          try {
            await storage.deleteSnapshot(s.id);
            await deps.db.deleteFrom('volume_snapshot').where('id', '=', s.id).where('status', '=', 'deleting').execute();
          } catch (err) {
            await moveSnapshot(s.id, 'deleting', { status: 'error_deleting', status_reason: message(err) });
          }
        }
      }
      // Volumes are independent (the driver locks per volume): a few at a time keep both the disk and
      // qemu-img busy, and a long copy from an image does not hold up the rest. Volumes asked for while
      // the pass works are taken in the same pass, as workers free up.
      const BUSY = ['creating', 'deleting', 'extending', 'uploading'];
      let revisionAtStart = revision;
      await rollingPool({
        initial: volumes.filter((v) => BUSY.includes(v.status)),
        limit: PARALLEL,
        keyOf: (v) => v.id,
        work: async (v) => {
          const pending = pendingOf(v);
          // An admin's status reset changes the record only.
          if (pending?.kind === 'reset') return false;
          if (v.status === 'creating') await create(v);
          else if (v.status === 'deleting') await remove(v);
          else if (v.status === 'extending' && pending?.kind === 'extend') await extend(v, pending.newSize);
          else if (v.status === 'uploading' && pending?.kind === 'upload') await upload(v, pending.imageId, pending.format);
          return false;
        },
        more: async (taken) => {
          // Only when the API changed something since the pass (or the last look) began.
          const now = await readRevision(deps.db, VOLUME_REVISION);
          if (now === revisionAtStart) return [];
          revisionAtStart = now;
          const rows = await deps.db.selectFrom('volume_volume').selectAll().where('host', '=', host.host).where('status', 'in', BUSY).execute();
          return rows.filter((r) => !taken.has(r.id));
        },
        subscribe: (wake) => deps.changes.subscribe(wake),
      });
      const files = await storage.list();
      const present = new Set(files.volumeIds);
      for (const v of volumes) {
        if (['available', 'in-use', 'reserved', 'attaching', 'detaching'].includes(v.status) && !present.has(v.id)) {
          log.warn({ volume: v.id }, 'the file of a volume is gone');
          await move(v.id, v.status, { status: 'error', status_reason: `The volume's file is missing on host ${host.host}.` });
        }
      }
      await reconcileOrphans(files.volumeIds, files.snapshotIds);
      await reconcileMounts();
      return { requeueMs: Math.max(0, heartbeatMs - (deps.now() - lastBeat)) };
    },
  };
}
