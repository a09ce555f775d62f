/**
 * Containers' volumes (Zun's `mounts`, `--mount source=VOLUME,destination=/path` or
 * `size=N,destination=/path`): the container service's door into the block storage service
 * (src/volume's exported attachment functions) and its own record of which volume a container
 * mounts where (`container_volume`, Zun's volume mappings).
 *
 * As for servers (src/compute/server-volumes.ts): the API checks every mount before anything is
 * made, then reserves the named volumes for the container (so no other machine takes them) or
 * asks for new ones; the host's container controller waits until a new one is available and
 * reserves it, mounts each (a loop device and an ext4 filesystem, by the host's BlockStorage) and
 * bind-mounts it into the container, then completes the Cinder attachment. After the container is
 * gone it unmounts them, deletes the attachments and deletes the volumes made for it.
 * @module
 */
import { posix } from 'node:path';
import type { BlockStorage } from '../drivers/block/types.js';
import { KumoError } from '../errors.js';
import {
  completeAttachment, createVolumeFor, deleteAttachment, deleteVolumeFor, findAttachableVolume, getAttachableVolume, reserveVolume, reserveVolumeMadeFor,
} from '../volume/attachments.js';
import type { AttachableVolume } from '../volume/attachments.js';
import type { Caller as VolumeCaller } from '../volume/context.js';
import { invalid, zunError } from './context.js';
import type { Caller, ContainerDeps } from './context.js';
import type { ContainerVolumeTable } from './schema.js';

export type ContainerVolumeRow = ContainerVolumeTable;

/** A mount as the request gives it, checked: an existing volume by id or name, or a new one of a size. */
export type MountRequest =
  | { readonly kind: 'existing'; readonly source: string; readonly destination: string }
  | { readonly kind: 'new'; readonly sizeGb: number; readonly destination: string };

/** A checked mount with its existing volume found. */
export type PlannedMount = MountRequest & { readonly volume?: AttachableVolume };

/** What agents use to reach volumes whatever project owns them: the container's owner could when it asked. */
const AGENT: VolumeCaller = { projectId: '', userId: '', isAdmin: true, requestId: 'container-agent' };

/** The API's caller as the volume service knows callers. */
const asVolumeCaller = (caller: Caller): VolumeCaller => ({ ...caller, requestId: 'container-api' });

const MOUNT_KEYS = new Set(['type', 'source', 'destination', 'size']);
const MOUNT_FORM = 'Mounts must be of the form {"source": VOLUME, "destination": PATH} or {"size": GiB, "destination": PATH}.';

/** Zun's VolumeInUse (400). */
const volumeInUse = (id: string) => invalid(`Volume ${id} is still in use.`);
const volumeNotReady = (v: AttachableVolume) => invalid(`Volume ${v.id} is ${v.status}; a container can mount a volume that is available.`);

const free = (v: AttachableVolume) => v.status === 'available' || (v.multiattach && (v.status === 'in-use' || v.status === 'reserved'));

function destinationOf(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalid(`Invalid input for field/attribute mounts: each mount needs a destination. ${MOUNT_FORM}`);
  if (!value.startsWith('/')) throw invalid(`Invalid input for field/attribute mounts: the destination ${value} must be an absolute path.`);
  if (value.includes('\0') || value.split('/').includes('..')) throw invalid(`Invalid input for field/attribute mounts: the destination ${JSON.stringify(value)} must not contain '..' or NUL.`);
  const path = posix.normalize(value).replace(/\/+$/, '');
  if (!path) throw invalid('Invalid input for field/attribute mounts: a volume cannot be mounted on the container\'s root /.');
  return path;
}

function sizeOf(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?[0-9]+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n <= 0) throw invalid(`Invalid input for field/attribute mounts: size ${String(value)} must be a whole number of GiB greater than 0.`);
  return n;
}

/** The `mounts` field as python-zunclient sends it, checked; nothing is looked up yet. */
export function parseMounts(value: unknown): MountRequest[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`Invalid input for field/attribute mounts: it must be a list. ${MOUNT_FORM}`);
  const out: MountRequest[] = [];
  for (const m of value as unknown[]) {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw invalid(`Invalid input for field/attribute mounts: each mount must be an object. ${MOUNT_FORM}`);
    const mount = m as Record<string, unknown>;
    const unknown = Object.keys(mount).filter((k) => !MOUNT_KEYS.has(k));
    if (unknown.length) throw invalid(`Invalid input for field/attribute mounts: unknown keys ${unknown.join(', ')}. ${MOUNT_FORM}`);
    const type = mount.type ?? 'volume';
    if (type === 'bind') throw invalid('Mounts of type bind (a file injected into the container) are not supported here; mount a volume.');
    if (type !== 'volume') throw invalid(`Invalid input for field/attribute mounts: type ${String(type)} must be volume.`);
    const destination = destinationOf(mount.destination);
    const hasSource = mount.source !== undefined && mount.source !== null && mount.source !== '';
    const hasSize = mount.size !== undefined && mount.size !== null && mount.size !== '';
    if (hasSource && hasSize) throw invalid('Invalid input for field/attribute mounts: give a source (an existing volume) or a size (a new volume), not both.');
    if (hasSource) {
      if (typeof mount.source !== 'string') throw invalid('Invalid input for field/attribute mounts: source must be a volume id or name.');
      out.push({ kind: 'existing', source: mount.source, destination });
    } else if (hasSize) out.push({ kind: 'new', sizeGb: sizeOf(mount.size), destination });
    else throw invalid(`Invalid input for field/attribute mounts: the mount on ${destination} needs a source or a size. ${MOUNT_FORM}`);
  }
  const dests = out.map((m) => m.destination);
  const twice = dests.find((d, i) => dests.indexOf(d) !== i);
  if (twice) throw invalid(`Invalid input for field/attribute mounts: two mounts on ${twice}.`);
  return out;
}

/**
 * Checks the mounts of a create before anything is made: each named volume visible to the caller
 * (by id or name), free, given once, and on the container's host when both are known.
 */
export async function checkContainerMounts(deps: ContainerDeps, caller: Caller, mounts: readonly MountRequest[], host: string | null): Promise<PlannedMount[]> {
  const planned: PlannedMount[] = [];
  for (const m of mounts) {
    if (m.kind === 'new') {
      planned.push(m);
      continue;
    }
    const volume = await findAttachableVolume(deps.volume, asVolumeCaller(caller), m.source).catch((err: unknown) => {
      if (err instanceof KumoError && err.status === 404) throw zunError('ERR_NOT_FOUND', `Volume ${m.source} could not be found.`);
      if (err instanceof KumoError && err.status === 409) throw zunError('ERR_CONFLICT', 'Multiple cinder volumes exist with same name. Please use the uuid instead.');
      throw err;
    });
    if (planned.some((p) => p.volume?.id === volume.id)) throw invalid(`Invalid input for field/attribute mounts: volume ${m.source} is given twice.`);
    if (!free(volume)) throw volume.attachments.length ? volumeInUse(volume.id) : volumeNotReady(volume);
    if (host && volume.host && volume.host !== host) throw invalid(`Volume ${volume.id} is on host ${volume.host}; a container reaches only the volumes of its own host (${host}).`);
    planned.push({ ...m, volume });
  }
  return planned;
}

/**
 * After the container's row exists: named volumes reserved for it, new ones asked for (made by the
 * volume service's agent; reserved by the container agent once available). On failure the caller
 * undoes it all with releaseContainerVolumes.
 */
export async function addContainerVolumes(deps: ContainerDeps, caller: Caller, containerUuid: string, containerName: string, planned: readonly PlannedMount[]): Promise<void> {
  for (const m of planned) {
    const base = { id: deps.newId(), container_uuid: containerUuid, destination: m.destination, created_at: new Date(deps.now()).toISOString() };
    if (m.kind === 'existing') {
      const volumeId = m.volume!.id;
      const attachment = await reserveVolume(deps.volume, asVolumeCaller(caller), volumeId, { instanceId: containerUuid, mountpoint: m.destination }).catch((err: unknown) => {
        // Taken since the check: another machine was quicker.
        if (err instanceof KumoError && err.status < 500) throw volumeInUse(volumeId);
        throw err;
      });
      try {
        await deps.db.insertInto('container_volume').values({ ...base, volume_id: volumeId, attachment_id: attachment.id, auto_remove: 0, state: 'reserved' }).execute();
      } catch (err) {
        await deleteAttachment(deps.volume, attachment.id);
        throw err;
      }
    } else {
      const volume = await createVolumeFor(deps.volume, asVolumeCaller(caller), { sizeGb: m.sizeGb, name: '', description: `for container ${containerName} (${containerUuid})` }).catch((err: unknown) => {
        if (err instanceof KumoError && err.status < 500) throw zunError(err.code, `Volume Creation failed: ${err.message}`);
        throw err;
      });
      await deps.db.insertInto('container_volume').values({ ...base, volume_id: volume.id, attachment_id: null, auto_remove: 1, state: 'creating' }).execute();
    }
  }
}

export async function containerVolumes(deps: Pick<ContainerDeps, 'db'>, containerUuid: string): Promise<ContainerVolumeRow[]> {
  return deps.db.selectFrom('container_volume').selectAll().where('container_uuid', '=', containerUuid).orderBy('created_at').orderBy('destination').execute();
}

/** The container's `mounts` as its create gave them (the volume by id), for its view. */
export async function mountsOf(deps: Pick<ContainerDeps, 'db'>, containerUuids: readonly string[]): Promise<Map<string, { type: 'volume'; source: string; destination: string }[]>> {
  const out = new Map<string, { type: 'volume'; source: string; destination: string }[]>(containerUuids.map((id) => [id, []]));
  for (let i = 0; i < containerUuids.length; i += 500) {
    const rows = await deps.db.selectFrom('container_volume').select(['container_uuid', 'volume_id', 'destination']).where('container_uuid', 'in', containerUuids.slice(i, i + 500)).orderBy('created_at').orderBy('destination').execute();
    for (const r of rows) out.get(r.container_uuid)?.push({ type: 'volume', source: r.volume_id, destination: r.destination });
  }
  return out;
}

/**
 * A deleted (or never built) container's volumes, once nothing in it uses them any more: each
 * unmounted from this host (when `storage` is given), its Cinder attachment deleted, the volumes
 * made for it deleted (one still being made too: deleteVolumeFor), its row removed.
 */
export async function releaseContainerVolumes(deps: ContainerDeps, storage: BlockStorage | undefined, containerUuid: string): Promise<void> {
  for (const v of await containerVolumes(deps, containerUuid)) {
    if (v.attachment_id) {
      await storage?.unmountForContainer(v.attachment_id);
      await deleteAttachment(deps.volume, v.attachment_id);
      await deps.db.updateTable('container_volume').set({ attachment_id: null, state: 'released' }).where('id', '=', v.id).execute();
    }
    if (v.auto_remove) {
      const volume = await getAttachableVolume(deps.volume, AGENT, v.volume_id).catch((err: unknown) => {
        if (err instanceof KumoError && err.status === 404) return null;
        throw err;
      });
      if (volume && volume.status !== 'deleting') await deleteVolumeFor(deps.volume, AGENT, v.volume_id);
    }
    await deps.db.deleteFrom('container_volume').where('id', '=', v.id).execute();
  }
}

// ---- the agent's side ----

/**
 * The container's volumes mounted on this host, as bind mounts for its OCI spec: volumes made for
 * it are reserved once available. 'waiting' while one is still being made; an error when one failed
 * or the host cannot mount volumes.
 */
export async function volumeMountsFor(
  deps: ContainerDeps, storage: BlockStorage | undefined, host: string, containerUuid: string,
): Promise<{ source: string; destination: string; readonly: boolean }[] | 'waiting'> {
  const rows = await containerVolumes(deps, containerUuid);
  if (!rows.length) return [];
  if (!storage) throw new Error(`host ${host} has no block storage, so it cannot mount this container's volumes`);
  for (const v of rows.filter((r) => r.state === 'creating')) {
    const attachment = await reserveVolumeMadeFor(deps.volume, AGENT, v.volume_id, 'container', { instanceId: containerUuid, mountpoint: v.destination });
    if (attachment === 'waiting') return 'waiting';
    await deps.db.updateTable('container_volume').set({ attachment_id: attachment.id, state: 'reserved' }).where('id', '=', v.id).execute();
    v.attachment_id = attachment.id;
  }
  const mounts = [];
  for (const v of rows) {
    const m = await storage.mountForContainer(v.attachment_id!, v.volume_id);
    mounts.push({ source: m.hostPath, destination: v.destination, readonly: m.readOnly });
  }
  return mounts;
}

/** After the container is created with them: the Cinder attachments complete, the volumes in-use. */
export async function completeContainerVolumes(deps: ContainerDeps, host: string, containerUuid: string): Promise<void> {
  for (const v of await containerVolumes(deps, containerUuid)) {
    if (v.state !== 'reserved' || !v.attachment_id) continue;
    await completeAttachment(deps.volume, v.attachment_id, { hostName: host, mountpoint: v.destination });
    await deps.db.updateTable('container_volume').set({ state: 'attached' }).where('id', '=', v.id).execute();
  }
}

/** Attachment ids this host's containers hold (for a reconcile: a container mount of none of them is left over). */
export async function attachmentIdsOfHost(deps: ContainerDeps, containerUuids: readonly string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let i = 0; i < containerUuids.length; i += 500) {
    const rows = await deps.db.selectFrom('container_volume').select('attachment_id').where('container_uuid', 'in', containerUuids.slice(i, i + 500)).execute();
    for (const r of rows) if (r.attachment_id) ids.add(r.attachment_id);
  }
  return ids;
}
