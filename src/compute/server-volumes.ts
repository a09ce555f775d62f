/**
 * Servers' volumes: the compute service's door into the block storage service (src/volume's
 * exported attachment functions) and its own record of which volume a server has
 * (`compute_volume_attachment`, Nova's volume block device mappings).
 *
 * The API reserves a volume when it is asked for (a create with block device mappings, or
 * os-volume_attachments), so a second machine cannot take it meanwhile; the host's compute
 * controller puts it into the VM and completes the Cinder attachment, or takes it out and deletes
 * the attachment. A volume is a file on the host that holds it, so a server with volumes runs on
 * that host.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { BlockStorage } from '../drivers/block/types.js';
import type { DiskSpec } from '../drivers/qemu/types.js';
import { KumoError } from '../errors.js';
import {
  beginDetaching, completeAttachment, createVolumeFor, deleteAttachment, deleteVolumeFor, getAttachableVolume, reserveVolume, reserveVolumeMadeFor,
} from '../volume/attachments.js';
import type { AttachableVolume } from '../volume/attachments.js';
import type { BlockDevicePlan, PlannedVolume } from './block-devices.js';
import { invalid, novaError } from './context.js';
import { finishAction, recordAction } from './instance-actions.js';
import type { Caller, ComputeDeps } from './context.js';
import type { VolumeAttachmentTable } from './schema.js';

export type ServerVolumeRow = VolumeAttachmentTable;

/** What agents use to reach volumes whatever project owns them: the server's owner could when it asked. */
const AGENT: Caller = { projectId: '', userId: '', isAdmin: true, requestId: 'compute-agent' };

const GIB = 1024 ** 3;

/** The disk name of a volume in a VM (the driver takes 20 characters of [a-z0-9-]; 76 bits of the id keep it unique). */
export const volumeDiskName = (volumeId: string): string => `v${volumeId.replace(/-/g, '').slice(0, 19).toLowerCase()}`;

/** Nova's InvalidVolume, a 400. */
const invalidVolume = (id: string, status: string) => invalid(`Invalid volume: volume '${id}' status must be 'available'. Currently in '${status}'`);

/** A volume the caller named, as Nova reports a bad one in a create (400) or an attach (404). */
async function namedVolume(deps: ComputeDeps, caller: Caller, volumeId: string, missing: (id: string) => KumoError): Promise<AttachableVolume> {
  return getAttachableVolume(deps.volume, caller, volumeId).catch((err: unknown) => {
    if (err instanceof KumoError && err.status === 404) throw missing(volumeId);
    throw err;
  });
}

const free = (v: AttachableVolume) => v.status === 'available' || (v.multiattach && (v.status === 'in-use' || v.status === 'reserved'));

/**
 * Checks the volumes of a create before anything is made: each existing one visible to the caller
 * and free, all on one host (which the server must then run on), at most one server when it names
 * existing volumes. Returns that host, if any.
 */
export async function checkServerVolumes(deps: ComputeDeps, caller: Caller, plan: BlockDevicePlan, count: number): Promise<string | null> {
  const existing = plan.volumes.filter((v): v is Extract<PlannedVolume, { kind: 'existing' }> => v.kind === 'existing');
  if (existing.length && count > 1) throw invalid('Block Device Mapping is Invalid: an existing volume can be attached to one server only; launch the servers one by one.');
  if (new Set(existing.map((v) => v.volumeId)).size !== existing.length) throw invalid('Block Device Mapping is Invalid: a volume is given twice.');
  const hosts = new Set<string>();
  for (const v of existing) {
    const volume = await namedVolume(deps, caller, v.volumeId, (id) => invalid(`Block Device Mapping is Invalid: failed to get volume ${id}.`));
    if (!free(volume)) throw invalidVolume(volume.id, volume.status);
    if (volume.host) hosts.add(volume.host);
  }
  if (hosts.size > 1) throw invalid(`Block Device Mapping is Invalid: the volumes are on different hosts (${[...hosts].join(', ')}); a server reaches only the volumes of its own host.`);
  return hosts.size ? [...hosts][0] : null;
}

/** Device names as the guest sees them: the root disk is vda, the others follow in order. */
function deviceNames(plan: BlockDevicePlan): string[] {
  let next = plan.bootImageId ? 1 : 0;
  return plan.volumes.map((v) => (v.boot ? '/dev/vda' : `/dev/vd${String.fromCharCode(97 + next++)}`));
}

/**
 * After the server's row exists: existing volumes reserved for it, new ones asked for (made by the
 * volume service's agent; reserved by the compute agent once available). On failure the caller
 * undoes it all with releaseServerVolumes.
 */
export async function addServerVolumes(deps: ComputeDeps, caller: Caller, serverId: string, serverName: string, plan: BlockDevicePlan): Promise<void> {
  const devices = deviceNames(plan);
  for (const [i, v] of plan.volumes.entries()) {
    const base = { instance_id: serverId, boot: v.boot ? 1 : 0, device: devices[i], tag: v.tag, delete_on_termination: v.deleteOnTermination ? 1 : 0, created_at: new Date(deps.now()).toISOString() };
    if (v.kind === 'existing') {
      const volume = await namedVolume(deps, caller, v.volumeId, (id) => invalid(`Block Device Mapping is Invalid: failed to get volume ${id}.`));
      const attachment = await reserveVolume(deps.volume, caller, v.volumeId, { instanceId: serverId, mountpoint: devices[i] }).catch((err: unknown) => {
        if (err instanceof KumoError && err.status < 500) throw invalidVolume(v.volumeId, volume.status);
        throw err;
      });
      await deps.db.insertInto('compute_volume_attachment').values({ ...base, id: deps.newId(), volume_id: v.volumeId, attachment_id: attachment.id, state: 'reserved', size_gb: volume.sizeGb }).execute();
    } else {
      // Nova names the volumes it makes after nothing in particular; the server's name says whose they are.
      const volume = await createVolumeFor(deps.volume, caller, { sizeGb: v.sizeGb, name: '', description: `for server ${serverName} (${serverId})`, imageId: v.imageId ?? undefined }).catch((err: unknown) => {
        if (err instanceof KumoError && err.status < 500) throw novaError(err.code, err.message);
        throw err;
      });
      await deps.db.insertInto('compute_volume_attachment').values({ ...base, id: deps.newId(), volume_id: volume.id, attachment_id: null, state: 'creating', size_gb: v.sizeGb }).execute();
    }
  }
}

export async function serverVolumes(deps: Pick<ComputeDeps, 'db'>, serverId: string): Promise<ServerVolumeRow[]> {
  return deps.db.selectFrom('compute_volume_attachment').selectAll().where('instance_id', '=', serverId).orderBy('boot', 'desc').orderBy('device').execute();
}

/** Whether the server boots from a volume (Nova shows its image as ""). */
export async function bootsFromVolume(deps: Pick<ComputeDeps, 'db'>, serverId: string): Promise<boolean> {
  return Boolean(await deps.db.selectFrom('compute_volume_attachment').select('id').where('instance_id', '=', serverId).where('boot', '=', 1).executeTakeFirst());
}

/** `os-extended-volumes:volumes_attached` of a page of servers. */
export async function volumesAttachedOf(deps: Pick<ComputeDeps, 'db'>, serverIds: readonly string[]): Promise<Map<string, ServerVolumeRow[]>> {
  const out = new Map<string, ServerVolumeRow[]>(serverIds.map((id) => [id, []]));
  for (let i = 0; i < serverIds.length; i += 500) {
    const rows = await deps.db.selectFrom('compute_volume_attachment').selectAll().where('instance_id', 'in', serverIds.slice(i, i + 500)).orderBy('created_at').execute();
    for (const r of rows) out.get(r.instance_id)?.push(r);
  }
  return out;
}

/**
 * A deleted (or never built) server's volumes: Cinder attachments deleted, volumes made or given
 * with delete_on_termination deleted, rows removed. Volumes still being created are deleted once
 * the volume service lets them go (a later pass retries).
 */
export async function releaseServerVolumes(deps: ComputeDeps, serverId: string): Promise<void> {
  for (const v of await serverVolumes(deps, serverId)) {
    if (v.attachment_id) await deleteAttachment(deps.volume, v.attachment_id);
    if (v.delete_on_termination) await deleteVolumeFor(deps.volume, AGENT, v.volume_id).catch((err: unknown) => {
      // Gone already is fine; anything else (a volume still creating) is retried by the next pass.
      if (!(err instanceof KumoError && err.status === 404)) throw err;
    });
    await deps.db.deleteFrom('compute_volume_attachment').where('id', '=', v.id).execute();
  }
}

// ---- os-volume_attachments ----

/** The next free vdX after the server's disks (the root disk, its volumes, and the config drive Kumo puts after them is not counted: QEMU names by bus order). */
async function nextDevice(deps: ComputeDeps, serverId: string, bootFromVolume: boolean): Promise<string> {
  const used = new Set((await serverVolumes(deps, serverId)).map((v) => v.device));
  if (!bootFromVolume) used.add('/dev/vda');
  for (let c = 97; c <= 122; c++) if (!used.has(`/dev/vd${String.fromCharCode(c)}`)) return `/dev/vd${String.fromCharCode(c)}`;
  throw invalid('No free device name is left for the volume.');
}

/** os-volume_attachments POST: the volume reserved for the server; the agent hot-plugs it (or a stopped server gets it at its next start). */
export async function requestVolumeAttach(deps: ComputeDeps, caller: Caller, server: { readonly uuid: string; readonly host: string | null }, input: { volumeId: string; tag: string | null; deleteOnTermination: boolean }): Promise<ServerVolumeRow> {
  const serverId = server.uuid;
  const volume = await namedVolume(deps, caller, input.volumeId, (id) => novaError('ERR_NOT_FOUND', `Volume ${id} could not be found.`));
  // Refused here, not failed on the host: a volume is a file its own host holds.
  if (volume.host && server.host && volume.host !== server.host) throw invalid(`Invalid volume: volume ${volume.id} is on host ${volume.host} and server ${serverId} runs on ${server.host}; a server reaches only the volumes of its own host.`);
  const mine = await deps.db.selectFrom('compute_volume_attachment').select('id').where('instance_id', '=', serverId).where('volume_id', '=', input.volumeId).executeTakeFirst();
  if (mine) throw invalid(`Invalid volume: volume ${input.volumeId} is already attached to server ${serverId}.`);
  if (!free(volume)) throw invalidVolume(volume.id, volume.status);
  const device = await nextDevice(deps, serverId, await bootsFromVolume(deps, serverId));
  const attachment = await reserveVolume(deps.volume, caller, input.volumeId, { instanceId: serverId, mountpoint: device }).catch((err: unknown) => {
    if (err instanceof KumoError && err.status < 500) throw invalid(err.message);
    throw err;
  });
  const row: ServerVolumeRow = {
    id: deps.newId(), instance_id: serverId, volume_id: input.volumeId, attachment_id: attachment.id, boot: 0, device, tag: input.tag,
    delete_on_termination: input.deleteOnTermination ? 1 : 0, state: 'attaching', size_gb: volume.sizeGb, created_at: new Date(deps.now()).toISOString(),
  };
  try {
    await deps.db.insertInto('compute_volume_attachment').values(row).execute();
  } catch (err) {
    await deleteAttachment(deps.volume, attachment.id);
    throw err;
  }
  return row;
}

/** os-volume_attachments DELETE: the agent unplugs it and deletes the attachment. The root volume stays (Nova: 400). */
export async function requestVolumeDetach(deps: ComputeDeps, serverId: string, volumeId: string): Promise<void> {
  const row = await deps.db.selectFrom('compute_volume_attachment').selectAll().where('instance_id', '=', serverId).where('volume_id', '=', volumeId).executeTakeFirst();
  if (!row) throw novaError('ERR_NOT_FOUND', `Volume ${volumeId} is not attached to server ${serverId}.`);
  if (row.boot) throw invalid("Can't detach root device volume");
  if (row.state === 'detaching') return;
  if (row.attachment_id) await beginDetaching(deps.volume, row.attachment_id);
  await deps.db.updateTable('compute_volume_attachment').set({ state: 'detaching' }).where('id', '=', row.id).execute();
}

export async function updateDeleteOnTermination(deps: ComputeDeps, serverId: string, volumeId: string, value: boolean): Promise<void> {
  await deps.db.updateTable('compute_volume_attachment').set({ delete_on_termination: value ? 1 : 0 }).where('instance_id', '=', serverId).where('volume_id', '=', volumeId).execute();
}

// ---- the agent's side ----

/** Where a server's volume is on this host, as a VM disk (virtio-blk, the volume id as its serial as Nova's libvirt driver does). */
async function diskOf(deps: ComputeDeps, storage: BlockStorage, host: string, v: ServerVolumeRow): Promise<DiskSpec> {
  const file = await storage.volume(v.volume_id);
  if (!file) throw new Error(`volume ${v.volume_id} has no file on host ${host}: a server reaches only the volumes of its own host`);
  const { multiattach } = await getAttachableVolume(deps.volume, AGENT, v.volume_id);
  return { name: volumeDiskName(v.volume_id), path: file.path, format: file.format, serial: v.volume_id.slice(0, 20), ...(multiattach ? { shareable: true } : {}) };
}

/**
 * The server's volume disks for its VM, boot volume first: volumes made for it are reserved once
 * available. 'waiting' while one is still being made; an error when one failed.
 */
export async function volumeDisksFor(deps: ComputeDeps, storage: BlockStorage | undefined, host: string, serverId: string): Promise<DiskSpec[] | 'waiting'> {
  const rows = (await serverVolumes(deps, serverId)).filter((v) => v.state !== 'detaching');
  if (!rows.length) return [];
  if (!storage) throw new Error(`host ${host} has no block storage, so it cannot give this server its volumes`);
  for (const v of rows.filter((r) => r.state === 'creating')) {
    const attachment = await reserveVolumeMadeFor(deps.volume, AGENT, v.volume_id, 'server', { instanceId: serverId, mountpoint: v.device });
    if (attachment === 'waiting') return 'waiting';
    await deps.db.updateTable('compute_volume_attachment').set({ attachment_id: attachment.id, state: 'reserved' }).where('id', '=', v.id).execute();
    v.attachment_id = attachment.id;
    v.state = 'reserved';
  }
  return Promise.all(rows.map((v) => diskOf(deps, storage, host, v)));
}

/** After the VM runs with them (or a stopped server has them recorded): the Cinder attachments complete, the volumes in-use. */
export async function completeServerVolumes(deps: ComputeDeps, host: string, serverId: string): Promise<void> {
  for (const v of await serverVolumes(deps, serverId)) {
    if (v.state !== 'reserved' && v.state !== 'attaching') continue;
    await completeAttachment(deps.volume, v.attachment_id!, { hostName: host, mountpoint: v.device });
    await deps.db.updateTable('compute_volume_attachment').set({ state: 'attached' }).where('id', '=', v.id).execute();
  }
}

/**
 * Attach and detach requests on a built server, and volumes grown while attached: hot-plugged or
 * unplugged when the VM runs (a stopped VM takes its volumes at its next start), QEMU told of a
 * new size. Returns the events to record.
 */
export async function syncServerVolumes(
  deps: ComputeDeps, storage: BlockStorage | undefined, host: string, serverId: string,
  vm: { readonly live: boolean; readonly diskNames: readonly string[] },
  hypervisor: { attachDisk(id: string, disk: DiskSpec): Promise<void>; detachDisk(id: string, name: string): Promise<void>; resizeDisk(id: string, name: string, bytes: number): Promise<void> },
): Promise<{ attached: number; detached: number; retry: boolean }> {
  let attached = 0;
  let detached = 0;
  let retry = false;
  for (const v of await serverVolumes(deps, serverId)) {
    const name = volumeDiskName(v.volume_id);
    if (v.state === 'detaching') {
      if (vm.live && vm.diskNames.includes(name)) {
        try {
          await hypervisor.detachDisk(serverId, name);
        } catch (err) {
          // A guest still booting (or busy) may not release the disk in time. Nova's libvirt driver asks again,
          // and so does Kumo: the attachment stays detaching and the next pass retries; the server is not failed.
          deps.logger.warn({ instance: serverId, volume: v.volume_id, err: err instanceof Error ? err.message : String(err) }, 'volume detach not done yet; retrying');
          retry = true;
          continue;
        }
      }
      if (v.attachment_id) await deleteAttachment(deps.volume, v.attachment_id);
      await deps.db.deleteFrom('compute_volume_attachment').where('id', '=', v.id).execute();
      detached++;
    } else if (v.state === 'attaching') {
      if (!storage) throw new Error(`host ${host} has no block storage, so it cannot attach volumes`);
      if (vm.live && !vm.diskNames.includes(name)) await hypervisor.attachDisk(serverId, await diskOf(deps, storage, host, v));
      await completeAttachment(deps.volume, v.attachment_id!, { hostName: host, mountpoint: v.device });
      await deps.db.updateTable('compute_volume_attachment').set({ state: 'attached' }).where('id', '=', v.id).execute();
      attached++;
    } else if (v.state === 'attached' && vm.live && vm.diskNames.includes(name)) {
      const volume = await getAttachableVolume(deps.volume, AGENT, v.volume_id).catch(() => null);
      if (volume && volume.status === 'in-use' && volume.sizeGb > v.size_gb) {
        await hypervisor.resizeDisk(serverId, name, volume.sizeGb * GIB);
        await deps.db.updateTable('compute_volume_attachment').set({ size_gb: volume.sizeGb }).where('id', '=', v.id).execute();
        // Nova records Cinder's volume-extended event as an extend_volume action (what clients wait on).
        await recordAction(deps, { projectId: volume.projectId, userId: '', isAdmin: true, requestId: `req-${randomUUID()}` }, serverId, 'extend_volume');
        await finishAction(deps.db, deps.now(), serverId, 'compute_extend_volume', host, undefined, 'extend_volume');
      }
    }
  }
  return { attached, detached, retry };
}
