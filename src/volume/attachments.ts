/**
 * Attachments of volumes to machines (servers and containers), and the functions the compute and
 * container services call: reserve → complete (in-use) → begin detaching → delete (available),
 * each a compare-and-set on the volume's status so two machines cannot both take a volume.
 * The Cinder attachments API (3.27+) and the legacy attach actions are built on the same steps.
 * @module
 */
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import { cinderError, invalidVolume, isoNow, markVolumeChanged } from './context.js';
import type { Caller, VolumeDeps } from './context.js';
import { volumeFileOnHost } from './hosts.js';
import { attachmentsOf, createVolumeRow, deleteVolume, visibleVolume } from './volumes.js';
import type { AttachmentRow, VolumeRow } from './volumes.js';

export { VOLUME_REVISION, VOLUME_STATUS_REVISION, markVolumeChanged } from './context.js';

export interface VolumeAttachmentView {
  readonly id: string;
  readonly volumeId: string;
  readonly instanceId: string;
  readonly hostName: string | null;
  readonly mountpoint: string | null;
  readonly mode: 'rw' | 'ro';
  readonly status: 'reserved' | 'attaching' | 'attached' | 'detaching';
  /** Milliseconds since the epoch. */
  readonly attachedAt: number | null;
}

export interface AttachableVolume {
  readonly id: string;
  readonly projectId: string;
  readonly name: string | null;
  readonly sizeGb: number;
  readonly status: string;
  /** The volume host holding its file (its BlockStorage finds it by id). */
  readonly host: string | null;
  readonly bootable: boolean;
  readonly multiattach: boolean;
  readonly imageMetadata: Record<string, string>;
  readonly attachments: readonly VolumeAttachmentView[];
}

export const attachmentNotFound = (id: string) => cinderError('ERR_NOT_FOUND', `Volume attachment could not be found with filter: attachment_id = ${id}.`);

export function attachmentView(a: AttachmentRow): VolumeAttachmentView {
  return {
    id: a.id, volumeId: a.volume_id, instanceId: a.instance_id, hostName: a.host_name, mountpoint: a.mountpoint, mode: a.mode === 'ro' ? 'ro' : 'rw',
    status: a.status as VolumeAttachmentView['status'], attachedAt: a.attached_at ? Date.parse(a.attached_at) : null,
  };
}

function attachableOf(row: VolumeRow, attachments: readonly AttachmentRow[]): AttachableVolume {
  return {
    id: row.id, projectId: row.project_id, name: row.name, sizeGb: row.size, status: row.status, host: row.host, bootable: !!row.bootable,
    multiattach: !!row.multiattach, imageMetadata: JSON.parse(row.image_metadata) as Record<string, string>, attachments: attachments.map(attachmentView),
  };
}

/** The volume as the caller may see it, with its attachments; ERR_NOT_FOUND when unknown or invisible. */
export async function getAttachableVolume(deps: VolumeDeps, caller: Caller, volumeId: string): Promise<AttachableVolume> {
  const row = await visibleVolume(deps.db, caller, volumeId);
  return attachableOf(row, (await attachmentsOf(deps.db, [row.id])).get(row.id) ?? []);
}

/**
 * The volume a consumer names by id, else by name within the caller's project (Zun's `--mount
 * source=`, as cinderclient's find): ERR_NOT_FOUND when none is visible, ERR_CONFLICT when the name
 * is not unique.
 */
export async function findAttachableVolume(deps: VolumeDeps, caller: Caller, idOrName: string): Promise<AttachableVolume> {
  const byId = await deps.db.selectFrom('volume_volume').select('id').where('id', '=', idOrName).executeTakeFirst();
  if (byId) return getAttachableVolume(deps, caller, idOrName);
  const named = await deps.db.selectFrom('volume_volume').select('id').where('name', '=', idOrName).where('project_id', '=', caller.projectId).execute();
  if (named.length > 1) throw cinderError('ERR_CONFLICT', `Multiple volumes exist with the name ${idOrName}; use its id.`);
  return getAttachableVolume(deps, caller, named.length ? named[0].id : idOrName);
}

/** Which statuses a new attachment may start from: available, or in use already when the volume is multiattach. */
const reservable = (row: VolumeRow) => row.status === 'available' || (!!row.multiattach && (row.status === 'in-use' || row.status === 'reserved'));

/**
 * Reserves the volume for `instanceId`: a `reserved` attachment, the volume `reserved` (a
 * multiattach volume in use stays `in-use`). ERR_BAD_REQUEST with Cinder's "Invalid volume" when its
 * status forbids it, ERR_CONFLICT when that machine already has it; nothing is written then.
 */
export async function reserveVolume(deps: VolumeDeps, caller: Caller, volumeId: string, options: { instanceId: string; mode?: 'rw' | 'ro'; mountpoint?: string | null; connector?: unknown }): Promise<VolumeAttachmentView> {
  const row = await reserveIn(deps, caller, volumeId, options);
  await markVolumeChanged(deps);
  return attachmentView(row);
}

async function reserveIn(deps: VolumeDeps, caller: Caller, volumeId: string, options: { instanceId: string; mode?: 'rw' | 'ro'; mountpoint?: string | null; connector?: unknown }): Promise<AttachmentRow> {
  try {
    return await deps.db.transaction().execute(async (tx) => {
      const row = await visibleVolume(tx, caller, volumeId);
      const mine = await tx.selectFrom('volume_attachment').select('id').where('volume_id', '=', volumeId).where('instance_id', '=', options.instanceId).executeTakeFirst();
      if (mine) throw cinderError('ERR_CONFLICT', `Invalid volume: Volume ${volumeId} is already attached to ${options.instanceId} (attachment ${mine.id}).`);
      if (!reservable(row)) {
        const statuses = row.multiattach ? 'available or in-use or downloading or reserved' : 'available or downloading';
        throw invalidVolume(`Volume ${volumeId} status must be ${statuses} to reserve, but the current status is ${row.status}.`);
      }
      const next = row.status === 'available' ? 'reserved' : row.status;
      const now = isoNow(deps);
      const cas = await tx.updateTable('volume_volume').set({ status: next, updated_at: now }).where('id', '=', volumeId).where('status', '=', row.status).executeTakeFirst();
      if (Number(cas.numUpdatedRows) !== 1) throw invalidVolume(`Volume ${volumeId} status changed while it was being reserved.`);
      const a: AttachmentRow = {
        id: deps.newId(), volume_id: volumeId, instance_id: options.instanceId, host_name: null, mountpoint: options.mountpoint ?? null, mode: options.mode ?? 'rw',
        status: options.connector ? 'attaching' : 'reserved', connector: options.connector ? JSON.stringify(options.connector) : null, attached_at: null, created_at: now, updated_at: now,
      };
      await tx.insertInto('volume_attachment').values(a).execute();
      return a;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw cinderError('ERR_CONFLICT', `Invalid volume: Volume ${volumeId} is already attached to ${options.instanceId}.`);
    throw err;
  }
}

async function attachmentRow(db: Db, attachmentId: string): Promise<AttachmentRow> {
  const a = await db.selectFrom('volume_attachment').selectAll().where('id', '=', attachmentId).executeTakeFirst();
  if (!a) throw attachmentNotFound(attachmentId);
  return a;
}

/** The attachment is in place on its host: attached, the volume `in-use`. */
export async function completeAttachment(deps: VolumeDeps, attachmentId: string, at: { hostName: string | null; mountpoint: string | null }): Promise<VolumeAttachmentView> {
  const done = await deps.db.transaction().execute(async (tx) => {
    const a = await attachmentRow(tx, attachmentId);
    const now = isoNow(deps);
    const patch = { status: 'attached', host_name: at.hostName ?? a.host_name, mountpoint: at.mountpoint ?? a.mountpoint, attached_at: a.attached_at ?? now, updated_at: now };
    await tx.updateTable('volume_attachment').set(patch).where('id', '=', attachmentId).execute();
    await tx.updateTable('volume_volume').set({ status: 'in-use', updated_at: now }).where('id', '=', a.volume_id).where('status', 'in', ['reserved', 'attaching', 'in-use', 'detaching']).execute();
    return { ...a, ...patch };
  });
  await markVolumeChanged(deps);
  return attachmentView(done);
}

/** The consumer starts taking the volume away: the attachment (and a volume with no other) `detaching`. */
export async function beginDetaching(deps: VolumeDeps, attachmentId: string): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const a = await attachmentRow(tx, attachmentId);
    const now = isoNow(deps);
    await tx.updateTable('volume_attachment').set({ status: 'detaching', updated_at: now }).where('id', '=', attachmentId).execute();
    const others = await tx.selectFrom('volume_attachment').select('id').where('volume_id', '=', a.volume_id).where('id', '!=', attachmentId).executeTakeFirst();
    if (!others) await tx.updateTable('volume_volume').set({ status: 'detaching', updated_at: now }).where('id', '=', a.volume_id).where('status', '=', 'in-use').execute();
  });
  await markVolumeChanged(deps);
}

/** Removes the attachment (nothing when it is gone already); the volume is `available` when none remain, else `in-use`. */
export async function deleteAttachment(deps: VolumeDeps, attachmentId: string): Promise<void> {
  const gone = await deps.db.transaction().execute(async (tx) => {
    const a = await tx.selectFrom('volume_attachment').selectAll().where('id', '=', attachmentId).executeTakeFirst();
    if (!a) return false;
    await tx.deleteFrom('volume_attachment').where('id', '=', attachmentId).execute();
    await settleVolumeStatus(deps, tx, a.volume_id);
    return true;
  });
  if (gone) await markVolumeChanged(deps);
}

/** After attachments change: `available` with none, `in-use` with an attached one, `reserved` with only reservations. */
async function settleVolumeStatus(deps: VolumeDeps, tx: Db, volumeId: string): Promise<void> {
  const rest = await tx.selectFrom('volume_attachment').select('status').where('volume_id', '=', volumeId).execute();
  const status = rest.length === 0 ? 'available' : rest.some((r) => r.status === 'attached' || r.status === 'detaching') ? 'in-use' : 'reserved';
  await tx.updateTable('volume_volume').set({ status, updated_at: isoNow(deps) }).where('id', '=', volumeId)
    .where('status', 'in', ['reserved', 'attaching', 'in-use', 'detaching']).execute();
}

export async function listAttachmentsOfInstance(deps: VolumeDeps, instanceId: string): Promise<VolumeAttachmentView[]> {
  const rows = await deps.db.selectFrom('volume_attachment').selectAll().where('instance_id', '=', instanceId).orderBy('created_at').execute();
  return rows.map(attachmentView);
}

/** A volume a server or container asks for by size (boot from volume, Zun --mount with a size): quotas apply; it starts `creating`. */
export async function createVolumeFor(deps: VolumeDeps, caller: Caller, spec: { sizeGb: number; name: string; description?: string; imageId?: string }): Promise<AttachableVolume> {
  const row = await createVolumeRow(deps, caller, { size: spec.sizeGb, name: spec.name, description: spec.description ?? null, imageId: spec.imageId ?? null, metadata: {} });
  return attachableOf(row, []);
}

/**
 * The attachment of a volume createVolumeFor made for a machine, once the volume is there: 'waiting'
 * while its host still makes it; an error naming `what` (the server, the container) when that failed.
 */
export async function reserveVolumeMadeFor(
  deps: VolumeDeps, caller: Caller, volumeId: string, what: string, options: { instanceId: string; mountpoint: string | null },
): Promise<VolumeAttachmentView | 'waiting'> {
  const volume = await getAttachableVolume(deps, caller, volumeId);
  if (volume.status === 'creating' || volume.status === 'downloading') return 'waiting';
  if (volume.status !== 'available') throw new Error(`volume ${volumeId} made for the ${what} is ${volume.status}`);
  return reserveVolume(deps, caller, volumeId, options);
}

/**
 * delete_on_termination, or a volume made for a machine that is given up: the volume goes once its
 * attachments are gone (ERR_BAD_REQUEST while any remains). One still being made goes too: its host's
 * agent finds it `deleting` when the make ends (the driver's per-volume lock orders the two).
 */
export async function deleteVolumeFor(deps: VolumeDeps, caller: Caller, volumeId: string): Promise<void> {
  const row = await visibleVolume(deps.db, caller, volumeId);
  await deleteVolume(deps, caller, volumeId, { cascade: true, force: row.status === 'creating' || row.status === 'downloading' });
}

// ---- the Cinder attachments API (3.27+) and legacy actions ----

export async function visibleAttachment(deps: VolumeDeps, caller: Caller, attachmentId: string): Promise<{ attachment: AttachmentRow; volume: VolumeRow }> {
  const a = await deps.db.selectFrom('volume_attachment').selectAll().where('id', '=', attachmentId).executeTakeFirst();
  if (!a) throw attachmentNotFound(attachmentId);
  const volume = await deps.db.selectFrom('volume_volume').selectAll().where('id', '=', a.volume_id).executeTakeFirst();
  if (!volume || (!caller.isAdmin && volume.project_id !== caller.projectId)) throw attachmentNotFound(attachmentId);
  return { attachment: a, volume };
}

/** What a consumer needs to reach the volume: the file on its host (`local`: the consumer runs there). */
export async function connectionInfo(deps: VolumeDeps, volume: VolumeRow, mode: string, attachmentId?: string) {
  const path = await volumeFileOnHost(deps.db, volume.host, volume.id);
  return {
    driver_volume_type: 'local',
    data: { device_path: path, volume_id: volume.id, host: volume.host, access_mode: mode, encrypted: false, ...(attachmentId ? { attachment_id: attachmentId } : {}) },
  };
}

/** Attachments API update: the consumer's connector given, the attachment `attaching`, connection_info back. */
export async function connectAttachment(deps: VolumeDeps, caller: Caller, attachmentId: string, connector: unknown): Promise<AttachmentRow> {
  const { attachment } = await visibleAttachment(deps, caller, attachmentId);
  if (!connector || typeof connector !== 'object') throw cinderError('ERR_VALIDATION', 'Invalid input received: connector is required.');
  const c = connector as Record<string, unknown>;
  const patch = {
    connector: JSON.stringify(connector), status: attachment.status === 'attached' ? 'attached' : 'attaching',
    host_name: typeof c.host === 'string' ? c.host : attachment.host_name, mountpoint: typeof c.mountpoint === 'string' ? c.mountpoint : attachment.mountpoint,
    mode: c.mode === 'ro' ? 'ro' : attachment.mode, updated_at: isoNow(deps),
  };
  await deps.db.transaction().execute(async (tx) => {
    await tx.updateTable('volume_attachment').set(patch).where('id', '=', attachmentId).execute();
    await tx.updateTable('volume_volume').set({ status: 'attaching', updated_at: patch.updated_at }).where('id', '=', attachment.volume_id).where('status', '=', 'reserved').execute();
  });
  await markVolumeChanged(deps);
  return { ...attachment, ...patch };
}

/** Legacy os-attach: the attachment for the instance (made now when os-reserve made none) attached. */
export async function legacyAttach(deps: VolumeDeps, caller: Caller, volume: VolumeRow, body: Record<string, unknown>): Promise<void> {
  const instanceId = typeof body.instance_uuid === 'string' ? body.instance_uuid : typeof body.host_name === 'string' ? body.host_name : null;
  if (!instanceId) throw cinderError('ERR_VALIDATION', 'Invalid request to attach volume to an invalid target');
  const mode = body.mode === 'ro' ? 'ro' : body.mode === undefined || body.mode === 'rw' ? 'rw' : null;
  if (!mode) throw cinderError('ERR_VALIDATION', "Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'");
  let a = await deps.db.selectFrom('volume_attachment').selectAll().where('volume_id', '=', volume.id).where('instance_id', '=', instanceId).executeTakeFirst();
  if (!a) {
    // os-reserve leaves the volume `attaching` without an attachment; that is one this call may take.
    if (volume.status === 'attaching') await deps.db.updateTable('volume_volume').set({ status: 'available' }).where('id', '=', volume.id).where('status', '=', 'attaching').execute();
    const view = await reserveVolume(deps, caller, volume.id, { instanceId, mode, mountpoint: typeof body.mountpoint === 'string' ? body.mountpoint : null });
    a = await attachmentRow(deps.db, view.id);
  }
  await completeAttachment(deps, a.id, { hostName: typeof body.host_name === 'string' ? body.host_name : null, mountpoint: typeof body.mountpoint === 'string' ? body.mountpoint : null });
}

/** Legacy os-detach: the named attachment, or the volume's only one. */
export async function legacyDetach(deps: VolumeDeps, volume: VolumeRow, attachmentId: unknown): Promise<void> {
  const all = (await attachmentsOf(deps.db, [volume.id])).get(volume.id) ?? [];
  let target: AttachmentRow | undefined;
  if (typeof attachmentId === 'string' && attachmentId) target = all.find((a) => a.id === attachmentId);
  else if (all.length === 1) target = all[0];
  if (!target) {
    if (all.length > 1) throw invalidVolume('Volume has more than one attachment; an attachment_id is required to detach.');
    // Cinder: a detach of a volume with no attachments is a success that leaves it available.
    if (all.length === 0 && !attachmentId) return;
    throw invalidVolume("Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.");
  }
  await deleteAttachment(deps, target.id);
}

/**
 * Cinder's os-force_detach (admin): the attachment named, or every one, is removed whatever the
 * volume's status (an error after a failed attach, say); the volume is then available or, with
 * attachments left, in-use. ERR_NOT_FOUND for an attachment the volume does not have.
 */
export async function forceDetach(deps: VolumeDeps, volume: VolumeRow, attachmentId: unknown): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    let q = tx.deleteFrom('volume_attachment').where('volume_id', '=', volume.id);
    if (typeof attachmentId === 'string' && attachmentId) q = q.where('id', '=', attachmentId);
    const r = await q.executeTakeFirst();
    if (typeof attachmentId === 'string' && attachmentId && Number(r.numDeletedRows) === 0) {
      throw cinderError('ERR_NOT_FOUND', `Volume attachment could not be found with filter: attachment_id = ${attachmentId}.`);
    }
    const left = await tx.selectFrom('volume_attachment').select('id').where('volume_id', '=', volume.id).executeTakeFirst();
    await tx.updateTable('volume_volume').set({ status: left ? 'in-use' : 'available', updated_at: isoNow(deps) }).where('id', '=', volume.id).execute();
  });
  await markVolumeChanged(deps);
}
