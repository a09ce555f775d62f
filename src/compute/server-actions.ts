/**
 * What users do to a server after create: update, delete, and the `POST /servers/{id}/action`
 * actions. Each checks Nova's state and lock rules, then records the new desired state (and a
 * pending action the controller carries out once) with the task_state Nova shows meanwhile.
 * @module
 */
import { changeWorkloadGroup, releaseWorkloadPorts, workloadGroupNames } from '../network/workload-ports.js';
import { adminOnly, invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import { flavorRecord, getFlavor } from './flavors.js';
import { KumoError } from '../errors.js';
import { bootImage, createSnapshotImage, imageNotFound } from './image-access.js';
import { recordAction } from './instance-actions.js';
import { getKeypair } from './keypairs.js';
import { checkResizeQuota } from './quotas.js';
import { releaseServerResources, resizeClaim } from './scheduler.js';
import {
  accessIp, checkImageFitsFlavor, checkLock, checkMetadataQuota, checkServerName, checkState, deleteServerRows, flavorOf, getServer, portsOf, specOf,
} from './servers.js';
import type { InstanceRow, PendingAction } from './servers.js';

async function patchServer(deps: ComputeDeps, uuid: string, patch: Partial<InstanceRow>): Promise<void> {
  await deps.db.updateTable('compute_instance').set({ ...patch, updated_at: new Date(deps.now()).toISOString() }).where('uuid', '=', uuid).execute();
}

export async function updateServer(deps: ComputeDeps, caller: Caller, id: string, input: Record<string, unknown>, minor: number): Promise<InstanceRow> {
  const allowed = ['name', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig', ...(minor >= 19 ? ['description'] : []), ...(minor >= 90 ? ['hostname'] : [])];
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k));
  if (unknown.length) throw invalid(`Invalid input for field/attribute server. Additional properties are not allowed ('${unknown[0]}' was unexpected)`);
  const row = await getServer(deps.db, caller, id);
  const patch: Partial<InstanceRow> = {};
  if (input.name !== undefined) patch.name = checkServerName(input.name);
  if (input.description !== undefined) {
    if (input.description !== null && (typeof input.description !== 'string' || input.description.length > 255)) throw invalid('Invalid input for field/attribute description. It must be a string of at most 255 characters');
    patch.description = input.description as string | null;
  }
  if (input.hostname !== undefined) {
    if (typeof input.hostname !== 'string' || !/^[a-zA-Z0-9](?:[a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$/.test(input.hostname)) throw invalid(`Invalid input for field/attribute hostname. Value: ${String(input.hostname)}.`);
    patch.hostname = input.hostname;
  }
  const [v4, v6] = [accessIp('accessIPv4', input.accessIPv4), accessIp('accessIPv6', input.accessIPv6)];
  if (v4 !== undefined) patch.access_ipv4 = v4;
  if (v6 !== undefined) patch.access_ipv6 = v6;
  await patchServer(deps, id, patch);
  return { ...row, ...patch };
}

/** DELETE: a server on a host is removed by its agent (task_state deleting); one that never reached a host goes now. */
export async function deleteServer(deps: ComputeDeps, caller: Caller, id: string, force = false): Promise<void> {
  const row = await getServer(deps.db, caller, id);
  if (!force) checkLock(row, caller);
  if (row.desired === 'deleted') return;
  await recordAction(deps, caller, id, 'delete');
  if (!row.host) {
    await releaseWorkloadPorts(deps.network, portsOf(row));
    await releaseServerResources(deps, id);
    await deleteServerRows(deps.db, id);
    return;
  }
  await patchServer(deps, id, { desired: 'deleted', task_state: 'deleting' });
}

type ActionHandler = (deps: ComputeDeps, caller: Caller, row: InstanceRow, body: Record<string, unknown>, minor: number) => Promise<Record<string, unknown> | void>;

/** Nova's action name in instance actions, where it differs from the body key. */
const ACTION_NAMES: Record<string, string> = {
  'os-stop': 'stop', 'os-start': 'start', createImage: 'createImage', confirmResize: 'confirmResize', revertResize: 'revertResize',
};

const simple = (action: string, vmStates: string[], desired: string, task: string, taskStates: (string | null)[] = [null]): ActionHandler => async (deps, caller, row) => {
  checkLock(row, caller);
  checkState(row, action, vmStates, taskStates);
  await recordAction(deps, caller, row.uuid, action);
  await patchServer(deps, row.uuid, { desired, task_state: task });
};

const pending = async (deps: ComputeDeps, row: InstanceRow, action: PendingAction, task: string | null, extra: Partial<InstanceRow> = {}) => {
  await patchServer(deps, row.uuid, { pending_action: JSON.stringify(action), task_state: task, ...extra });
};

const HANDLERS: Record<string, ActionHandler> = {
  'os-stop': simple('stop', ['active', 'error'], 'stopped', 'powering-off'),
  'os-start': simple('start', ['stopped'], 'running', 'powering-on'),
  pause: simple('pause', ['active'], 'paused', 'pausing'),
  unpause: simple('unpause', ['paused'], 'running', 'unpausing'),
  suspend: simple('suspend', ['active'], 'suspended', 'suspending'),
  resume: simple('resume', ['suspended'], 'running', 'resuming'),

  async reboot(deps, caller, row, body) {
    const type = (body.reboot as { type?: unknown } | undefined)?.type;
    if (typeof type !== 'string' || !['SOFT', 'HARD'].includes(type.toUpperCase())) throw invalid(`Invalid input for field/attribute type. Value: ${String(type)}. '${String(type)}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`);
    const hard = type.toUpperCase() === 'HARD';
    checkLock(row, caller);
    if (hard) {
      checkState(row, 'reboot', ['active', 'stopped', 'paused', 'suspended', 'error'], [null, 'rebooting', 'reboot_pending', 'reboot_started', 'rebooting_hard', 'powering-off', 'powering-on', 'pausing', 'unpausing', 'suspending', 'resuming']);
    } else checkState(row, 'reboot', ['active']);
    await recordAction(deps, caller, row.uuid, 'reboot');
    // A hard reboot brings the server back running whatever it was (Nova's hard reboot of a stopped server starts it).
    await pending(deps, row, { type: 'reboot', hard }, hard ? 'rebooting_hard' : 'rebooting', { desired: 'running' });
  },

  async rebuild(deps, caller, row, body, minor) {
    const input = body.rebuild as Record<string, unknown> | undefined;
    if (!input || typeof input !== 'object') throw invalid("Invalid input for field/attribute rebuild. 'rebuild' must be an object");
    if (typeof input.imageRef !== 'string' || !input.imageRef) throw invalid("Invalid input for field/attribute imageRef. 'imageRef' is a required property");
    checkLock(row, caller);
    checkState(row, 'rebuild', ['active', 'stopped', 'error']);
    // Nova rebuilds a volume-backed server only from 2.93, beyond this API's maximum.
    if (row.image_id === null) throw invalid(`Rebuilding a volume-backed server is not supported by this API version (it needs 2.93).`);
    const imageId = input.imageRef.replace(/\/+$/, '').split('/').at(-1)!;
    const image = await bootImage(deps, caller, imageId).catch((err: unknown) => {
      if (err instanceof KumoError && err.status === 404) throw imageNotFound(imageId);
      throw err;
    });
    checkImageFitsFlavor(image, flavorOf(row));
    const patch: Partial<InstanceRow> = { image_id: image.id };
    if (input.name !== undefined) patch.name = checkServerName(input.name);
    if (input.description !== undefined && minor >= 19) patch.description = input.description as string | null;
    if (input.user_data !== undefined && minor >= 57) patch.user_data = input.user_data as string | null;
    if (input.key_name !== undefined && minor >= 54) {
      if (input.key_name === null) Object.assign(patch, { key_name: null, key_data: null });
      else {
        const kp = await getKeypair(deps, caller, String(input.key_name)).catch(() => {
          throw invalid('Invalid key_name provided.');
        });
        Object.assign(patch, { key_name: kp.name, key_data: kp.public_key });
      }
    }
    await recordAction(deps, caller, row.uuid, 'rebuild');
    await pending(deps, row, { type: 'rebuild', imageId: image.id }, 'rebuilding', patch);
    if (input.metadata !== undefined) await replaceMetadata(deps, row.uuid, input.metadata);
  },

  async resize(deps, caller, row, body) {
    const ref = (body.resize as { flavorRef?: unknown } | undefined)?.flavorRef;
    if (typeof ref !== 'string' && typeof ref !== 'number') throw invalid("Invalid input for field/attribute flavorRef. 'flavorRef' is a required property");
    checkLock(row, caller);
    checkState(row, 'resize', ['active', 'stopped']);
    const flavorId = String(ref).replace(/\/+$/, '').split('/').at(-1)!;
    const newFlavor = await flavorRecord(deps, await getFlavor(deps, caller, flavorId).catch(() => {
      throw invalid(`Flavor ${flavorId} could not be found.`);
    }));
    const old = flavorOf(row);
    if (newFlavor.id === old.id) throw invalid('When resizing, instances must change flavor!');
    if (newFlavor.disk < old.disk && newFlavor.disk !== 0) throw invalid('Resize to zero disk flavor is not allowed.');
    await checkResizeQuota(deps.db, row.project_id, newFlavor.vcpus - old.vcpus, newFlavor.ram - old.ram);
    await resizeClaim(deps, row, newFlavor);
    await recordAction(deps, caller, row.uuid, 'resize');
    const spec = { ...specOf(row), old_flavor: old };
    await pending(deps, row, { type: 'resize' }, 'resize_prep', { flavor: JSON.stringify(newFlavor), spec: JSON.stringify(spec) });
  },

  async confirmResize(deps, caller, row) {
    checkLock(row, caller);
    checkState(row, 'confirmResize', ['resized']);
    await recordAction(deps, caller, row.uuid, 'confirmResize');
    await pending(deps, row, { type: 'confirm_resize' }, null);
    // Nova answers a confirm with 204 (every other action here is 202).
    return { status: 204, body: undefined };
  },

  async revertResize(deps, caller, row) {
    checkLock(row, caller);
    checkState(row, 'revertResize', ['resized']);
    await recordAction(deps, caller, row.uuid, 'revertResize');
    await pending(deps, row, { type: 'revert_resize' }, 'resize_reverting');
  },

  async createImage(deps, caller, row, body, minor) {
    const input = body.createImage as { name?: unknown; metadata?: unknown } | undefined;
    if (!input || typeof input !== 'object') throw invalid("Invalid input for field/attribute createImage. 'createImage' must be an object");
    if (row.image_id === null) throw invalid('Kumo cannot snapshot a volume-backed server into an image; snapshot its volume (openstack volume snapshot create) or upload the volume to an image.');
    if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 255) throw invalid(`Invalid input for field/attribute name. Value: ${String(input.name)}. It must be 1 to 255 characters`);
    const metadata = input.metadata === undefined ? {} : checkMeta(input.metadata);
    checkState(row, 'createImage', ['active', 'stopped', 'paused', 'suspended']);
    const imageId = await createSnapshotImage(deps, caller, row, input.name, metadata);
    await recordAction(deps, caller, row.uuid, 'createImage');
    await pending(deps, row, { type: 'snapshot', imageId }, 'image_snapshot');
    // 2.45 answers the image id in the body; before, only the Location header names it.
    return minor >= 45
      ? { status: 202, body: { image_id: imageId } }
      : { status: 202, body: '', headers: { Location: `${deps.config.publicUrl}/image/v2/images/${imageId}` } };
  },

  async lock(deps, caller, row, body, minor) {
    const reason = (body.lock as { locked_reason?: unknown } | null | undefined)?.locked_reason;
    if (reason !== undefined && (minor < 73 || typeof reason !== 'string' || reason.length > 255)) throw invalid('Invalid input for field/attribute locked_reason.');
    await recordAction(deps, caller, row.uuid, 'lock');
    await patchServer(deps, row.uuid, { locked: 1, locked_reason: (reason as string | undefined) ?? null });
  },

  async unlock(deps, caller, row) {
    await recordAction(deps, caller, row.uuid, 'unlock');
    await patchServer(deps, row.uuid, { locked: 0, locked_reason: null });
  },

  async addSecurityGroup(deps, caller, row, body) {
    const name = (body.addSecurityGroup as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || !name) throw invalid("Invalid input for field/attribute name. 'name' is a required property");
    await changeGroup(deps, caller, row, name, true);
  },

  async removeSecurityGroup(deps, caller, row, body) {
    const name = (body.removeSecurityGroup as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || !name) throw invalid("Invalid input for field/attribute name. 'name' is a required property");
    await changeGroup(deps, caller, row, name, false);
  },

  async 'os-resetState'(deps, caller, row, body) {
    if (!caller.isAdmin) throw adminOnly('os_compute_api:os-admin-actions:reset_state');
    const state = (body['os-resetState'] as { state?: unknown } | undefined)?.state;
    if (state !== 'active' && state !== 'error') throw invalid(`Invalid input for field/attribute state. Value: ${String(state)}. '${String(state)}' is not one of ['active', 'error']`);
    await recordAction(deps, caller, row.uuid, 'resetState');
    await patchServer(deps, row.uuid, { vm_state: state, task_state: null, pending_action: null });
  },

  // Soft delete is off (Nova's default reclaim_instance_interval = 0): no server is ever
  // SOFT_DELETED, so a restore always finds it in the wrong state, as in such a Nova.
  async restore(_deps, _caller, row) {
    checkState(row, 'restore', ['soft-deleted']);
  },

  async forceDelete(deps, caller, row) {
    await deleteServer(deps, caller, row.uuid, true);
  },
};

async function changeGroup(deps: ComputeDeps, caller: Caller, row: InstanceRow, name: string, add: boolean): Promise<void> {
  const spec = specOf(row);
  const ports = portsOf(row).map((p) => p.id);
  try {
    if (ports.length) await changeWorkloadGroup(deps.network, caller, ports, name, add);
  } catch (err) {
    if (err instanceof KumoError && err.status === 404) throw novaError('ERR_NOT_FOUND', `Security group ${name} not found for project ${caller.projectId}.`);
    if (err instanceof KumoError && err.status === 409) throw invalid(add ? `Security group ${name} is already associated with the instance ${row.uuid}` : `Security Group ${name} not associated with the instance ${row.uuid}`);
    throw err;
  }
  // The ref may be an id (OSC sends the id it looked up): Nova shows the groups' names.
  const groups = ports.length ? await workloadGroupNames(deps.network, ports) : add ? [...new Set([...spec.security_groups, name])] : spec.security_groups.filter((g) => g !== name);
  await recordAction(deps, caller, row.uuid, add ? 'addSecurityGroup' : 'removeSecurityGroup');
  await patchServer(deps, row.uuid, { spec: JSON.stringify({ ...spec, security_groups: groups }) });
}

export const SERVER_ACTIONS = Object.keys(HANDLERS);

/** `POST /servers/{id}/action`: exactly one action key in the body. */
export async function serverAction(deps: ComputeDeps, caller: Caller, id: string, body: unknown, minor: number, extra: Record<string, ActionHandler> = {}): Promise<Record<string, unknown> | void> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('Malformed request body');
  const keys = Object.keys(body);
  const handlers = { ...HANDLERS, ...extra };
  const action = keys.find((k) => k in handlers);
  if (!action) throw invalid(`There is no such action: ${keys[0] ?? ''}`);
  const row = await getServer(deps.db, caller, id);
  if (row.desired === 'deleted') throw novaError('ERR_CONFLICT', `Cannot '${ACTION_NAMES[action] ?? action}' instance ${row.uuid} while it is in task_state deleting`);
  return handlers[action](deps, caller, row, body as Record<string, unknown>, minor);
}

export type { ActionHandler };

// ---- metadata ----

export async function serverMetadata(deps: ComputeDeps, id: string): Promise<Record<string, string>> {
  const rows = await deps.db.selectFrom('compute_instance_metadata').selectAll().where('instance_id', '=', id).orderBy('key').execute();
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

function checkMeta(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid("Invalid input for field/attribute metadata. 'metadata' must be an object");
  for (const [k, v] of Object.entries(value)) {
    if (k.length < 1 || k.length > 255) throw invalid(`Invalid input for field/attribute metadata. Value: ${k}. Keys must be 1 to 255 characters`);
    if (typeof v !== 'string' || v.length > 255) throw invalid(`Invalid input for field/attribute metadata. Value: ${JSON.stringify(v)}. Values must be strings of at most 255 characters`);
  }
  return value as Record<string, string>;
}

export async function replaceMetadata(deps: ComputeDeps, id: string, value: unknown): Promise<Record<string, string>> {
  const meta = checkMeta(value);
  const row = await deps.db.selectFrom('compute_instance').select('project_id').where('uuid', '=', id).executeTakeFirstOrThrow();
  await checkMetadataQuota(deps, row.project_id, Object.keys(meta).length);
  await deps.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('compute_instance_metadata').where('instance_id', '=', id).execute();
    for (const [key, v] of Object.entries(meta)) await tx.insertInto('compute_instance_metadata').values({ instance_id: id, key, value: v }).execute();
  });
  return meta;
}

export async function mergeMetadata(deps: ComputeDeps, id: string, value: unknown): Promise<Record<string, string>> {
  const meta = checkMeta(value);
  const current = await serverMetadata(deps, id);
  const merged = { ...current, ...meta };
  const row = await deps.db.selectFrom('compute_instance').select('project_id').where('uuid', '=', id).executeTakeFirstOrThrow();
  await checkMetadataQuota(deps, row.project_id, Object.keys(merged).length);
  await deps.db.transaction().execute(async (tx) => {
    for (const [key, v] of Object.entries(meta)) {
      await tx.deleteFrom('compute_instance_metadata').where('instance_id', '=', id).where('key', '=', key).execute();
      await tx.insertInto('compute_instance_metadata').values({ instance_id: id, key, value: v }).execute();
    }
  });
  return merged;
}

export async function deleteMetadataItem(deps: ComputeDeps, id: string, key: string): Promise<void> {
  const res = await deps.db.deleteFrom('compute_instance_metadata').where('instance_id', '=', id).where('key', '=', key).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw novaError('ERR_NOT_FOUND', 'Metadata item was not found');
}
