/**
 * `POST /volumes/{id}/action`: extend (online from 3.42), reset_status, force_delete and force_detach (admin),
 * bootable and read-only flags, the volume's image metadata, retype (in place), the legacy attach steps Nova and Zun used before the attachments
 * API, connection info, and upload to an image. Each checks Cinder's state rules and writes one
 * change (a compare-and-set on the status where the state matters).
 * @module
 */
import { cinderError, invalidInput, invalidVolume, isoNow, isTrueSpec, markVolumeChanged, policyDenied } from './context.js';
import type { Caller, VolumeDeps } from './context.js';
import { connectionInfo, forceDetach, legacyAttach, legacyDetach } from './attachments.js';
import { createUploadImage } from './image-access.js';
import { checkVolumeQuota, lockProjectQuota } from './quotas.js';
import { resolveVolumeType, specsOf } from './volume-types.js';
import { deleteVolume, parseSize, READONLY_FALSE, READONLY_TRUE, visibleVolume } from './volumes.js';
import type { VolumeRow } from './volumes.js';

export interface ActionContext {
  readonly deps: VolumeDeps;
  readonly caller: Caller;
  readonly minor: number;
  readonly volume: VolumeRow;
  readonly body: unknown;
}

/** What an action answers: 202 with no body unless it returns one (200). */
export type ActionResult = undefined | { readonly status: number; readonly body: unknown };
export type ActionHandler = (ctx: ActionContext) => Promise<ActionResult>;

const boolOf = (v: unknown, field: string): boolean => {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['true', '1', 't', 'yes', 'y', 'on'].includes(s)) return true;
  if (['false', '0', 'f', 'no', 'n', 'off'].includes(s)) return false;
  throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${String(v)}. ${JSON.stringify(v)} is not of type 'boolean'`);
};
const objectOf = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Moves the status from one of `from` to `to`, or throws `failure` having changed nothing. */
async function casStatus(ctx: ActionContext, from: readonly string[], to: string, failure: () => Error): Promise<void> {
  const r = await ctx.deps.db.updateTable('volume_volume').set({ status: to, updated_at: isoNow(ctx.deps) }).where('id', '=', ctx.volume.id).where('status', 'in', [...from]).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw failure();
}

const imageMetadataOf = (v: VolumeRow): Record<string, string> => JSON.parse(v.image_metadata) as Record<string, string>;
async function writeImageMetadata(ctx: ActionContext, m: Record<string, string>): Promise<void> {
  await ctx.deps.db.updateTable('volume_volume').set({ image_metadata: JSON.stringify(m), updated_at: isoNow(ctx.deps) }).where('id', '=', ctx.volume.id).execute();
}

const STATUSES = ['creating', 'available', 'reserved', 'attaching', 'in-use', 'detaching', 'deleting', 'error', 'error_deleting', 'extending', 'error_extending', 'uploading', 'maintenance'];

export const VOLUME_ACTIONS: Record<string, ActionHandler> = {
  async 'os-extend'(ctx) {
    const { deps, volume, minor } = ctx;
    const body = objectOf(ctx.body);
    const newSize = parseSize(body.new_size, 'new_size');
    const allowed = minor >= 42 ? ['available', 'in-use'] : ['available'];
    if (!allowed.includes(volume.status)) {
      const expected = minor >= 42 ? "{'status': ('available', 'in-use')}" : "{'status': 'available'}";
      throw invalidVolume(`Volume ${volume.id} status must be '${expected}' to extend, currently ${volume.status}.`);
    }
    if (newSize <= volume.size) throw invalidInput(`New size for extend must be greater than current size. (current: ${volume.size}, extended: ${newSize}).`);
    await deps.db.transaction().execute(async (tx) => {
      const typeName = (await tx.selectFrom('volume_type').select('name').where('id', '=', volume.volume_type_id).executeTakeFirst())?.name ?? '__DEFAULT__';
      await lockProjectQuota(deps, tx, volume.project_id);
      await checkVolumeQuota(deps, tx, volume.project_id, typeName, { gigabytes: newSize - volume.size, perVolumeSize: newSize });
      const r = await tx.updateTable('volume_volume').set({ status: 'extending', pending: JSON.stringify({ kind: 'extend', newSize }), updated_at: isoNow(deps) })
        .where('id', '=', volume.id).where('status', '=', volume.status).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw invalidVolume(`Volume ${volume.id} status changed while the extend was being requested.`);
    });
    return undefined;
  },
  async 'os-reset_status'(ctx) {
    if (!ctx.caller.isAdmin) throw policyDenied('volume_extension:volume_admin_actions:reset_status');
    const body = objectOf(ctx.body);
    const patch: Partial<VolumeRow> = { updated_at: isoNow(ctx.deps) };
    if (body.status !== undefined) {
      if (typeof body.status !== 'string' || !STATUSES.includes(body.status.toLowerCase())) throw invalidInput(`Must specify a valid status`);
      patch.status = body.status.toLowerCase();
      patch.pending = JSON.stringify({ kind: 'reset' });
    }
    if (body.attach_status === 'detached') await ctx.deps.db.deleteFrom('volume_attachment').where('volume_id', '=', ctx.volume.id).execute();
    else if (body.attach_status !== undefined && body.attach_status !== 'attached') throw invalidInput(`Must specify a valid attach status`);
    if (body.status === undefined && body.attach_status === undefined) throw invalidInput('Must specify status, attach_status or migration_status for update!');
    await ctx.deps.db.updateTable('volume_volume').set(patch).where('id', '=', ctx.volume.id).execute();
    return undefined;
  },
  async 'os-force_delete'(ctx) {
    if (!ctx.caller.isAdmin) throw policyDenied('volume_extension:volume_admin_actions:force_delete');
    await deleteVolume(ctx.deps, ctx.caller, ctx.volume.id, { force: true, cascade: true });
    return undefined;
  },
  async 'os-set_bootable'(ctx) {
    const body = objectOf(ctx.body);
    if (body.bootable === undefined) throw invalidInput('Must specify bootable in request.');
    await ctx.deps.db.updateTable('volume_volume').set({ bootable: boolOf(body.bootable, 'bootable') ? 1 : 0, updated_at: isoNow(ctx.deps) }).where('id', '=', ctx.volume.id).execute();
    return { status: 200, body: undefined };
  },
  async 'os-update_readonly_flag'(ctx) {
    const body = objectOf(ctx.body);
    if (body.readonly === undefined) throw invalidInput('Must specify readonly in request.');
    if (!['available', 'in-use'].includes(ctx.volume.status)) throw invalidVolume(`Volume ${ctx.volume.id} status must be available or in-use, but current status is: ${ctx.volume.status}.`);
    await ctx.deps.db.updateTable('volume_volume').set({ readonly: boolOf(body.readonly, 'readonly') ? READONLY_TRUE : READONLY_FALSE, updated_at: isoNow(ctx.deps) }).where('id', '=', ctx.volume.id).execute();
    return undefined;
  },
  // One backend per host, every type on it: a retype never needs a migration, so it changes the type in place.
  async 'os-retype'(ctx) {
    const body = objectOf(ctx.body);
    const volume = ctx.volume;
    if (typeof body.new_type !== 'string' || !body.new_type) throw invalidInput('New volume type must be specified.');
    const policy = body.migration_policy ?? 'never';
    if (policy !== 'never' && policy !== 'on-demand') throw invalidInput(`Invalid migration policy: ${String(policy)}.`);
    if (!['available', 'in-use'].includes(volume.status)) throw invalidVolume(`Volume ${volume.id} status must be available or in-use, but current status is: ${volume.status}.`);
    const type = await resolveVolumeType(ctx.deps, ctx.caller, body.new_type);
    if (type.id === volume.volume_type_id) throw invalidInput('Retype requested both new volume type and current volume type are the same.');
    const multiattach = isTrueSpec(specsOf(type).multiattach) ? 1 : 0;
    if (volume.status === 'in-use' && multiattach !== volume.multiattach) throw invalidInput('Retyping an in-use volume cannot change its multiattach capability.');
    const r = await ctx.deps.db.updateTable('volume_volume').set({ volume_type_id: type.id, multiattach, updated_at: isoNow(ctx.deps) })
      .where('id', '=', volume.id).where('status', '=', volume.status).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw invalidVolume(`Volume ${volume.id} status changed while the retype was being requested.`);
    return undefined;
  },
  // The volume's copy of its image's properties (volume_image_metadata), owner-editable as in Cinder.
  async 'os-set_image_metadata'(ctx) {
    const given = objectOf(objectOf(ctx.body).metadata);
    if (objectOf(ctx.body).metadata === undefined) throw invalidInput('Malformed request body: metadata is required.');
    for (const [k, v] of Object.entries(given)) {
      if (typeof v !== 'string' || !k || k.length > 255 || v.length > 255) throw invalidInput(`Invalid metadata: ${k}: values are strings and keys and values at most 255 characters.`);
    }
    const merged = { ...imageMetadataOf(ctx.volume), ...(given as Record<string, string>) };
    await writeImageMetadata(ctx, merged);
    return { status: 200, body: { metadata: merged } };
  },
  async 'os-unset_image_metadata'(ctx) {
    const key = objectOf(ctx.body).key;
    if (typeof key !== 'string' || !key) throw invalidInput('Malformed request body: key is required.');
    const m = imageMetadataOf(ctx.volume);
    if (!(key in m)) throw cinderError('ERR_NOT_FOUND', `Glance metadata for volume/snapshot ${ctx.volume.id} cannot be found.`);
    delete m[key];
    await writeImageMetadata(ctx, m);
    return { status: 200, body: undefined };
  },
  async 'os-show_image_metadata'(ctx) {
    return { status: 200, body: { metadata: imageMetadataOf(ctx.volume) } };
  },
  async 'os-reserve'(ctx) {
    const from = ctx.volume.multiattach ? ['available', 'in-use'] : ['available'];
    await casStatus(ctx, from, 'attaching', () => invalidVolume(`Volume status must be ${from.join(' or ')} to reserve, but the status is ${ctx.volume.status}.`));
    return undefined;
  },
  async 'os-unreserve'(ctx) {
    const has = await ctx.deps.db.selectFrom('volume_attachment').select('id').where('volume_id', '=', ctx.volume.id).executeTakeFirst();
    await casStatus(ctx, ['attaching', 'reserved'], has ? 'in-use' : 'available', () => invalidVolume(`Volume status must be attaching to unreserve, but the status is ${ctx.volume.status}.`));
    return undefined;
  },
  async 'os-begin_detaching'(ctx) {
    await casStatus(ctx, ['in-use'], 'detaching', () => invalidVolume(`Volume status must be in-use to begin detaching, but the status is ${ctx.volume.status}.`));
    return undefined;
  },
  async 'os-roll_detaching'(ctx) {
    await casStatus(ctx, ['detaching'], 'in-use', () => invalidVolume(`Volume status must be detaching to roll detaching, but the status is ${ctx.volume.status}.`));
    return undefined;
  },
  async 'os-attach'(ctx) {
    await legacyAttach(ctx.deps, ctx.caller, ctx.volume, objectOf(ctx.body));
    return undefined;
  },
  async 'os-detach'(ctx) {
    await legacyDetach(ctx.deps, ctx.volume, objectOf(ctx.body).attachment_id);
    return undefined;
  },
  async 'os-force_detach'(ctx) {
    if (!ctx.caller.isAdmin) throw policyDenied('volume_extension:volume_admin_actions:force_detach');
    await forceDetach(ctx.deps, ctx.volume, objectOf(ctx.body).attachment_id);
    return undefined;
  },
  async 'os-initialize_connection'(ctx) {
    const connector = objectOf(ctx.body).connector;
    if (!connector || typeof connector !== 'object') throw invalidInput('Must specify connector in request.');
    return { status: 200, body: { connection_info: await connectionInfo(ctx.deps, ctx.volume, ctx.volume.readonly === READONLY_TRUE ? 'ro' : 'rw') } };
  },
  async 'os-terminate_connection'(ctx) {
    if (!objectOf(ctx.body).connector) throw invalidInput('Must specify connector in request.');
    return undefined;
  },
  async 'os-volume_upload_image'(ctx) {
    const { deps, caller, volume, minor } = ctx;
    const body = objectOf(ctx.body);
    const name = body.image_name;
    if (typeof name !== 'string' || !name) throw invalidInput("Can't upload volume to image without image_name.");
    const diskFormat = body.disk_format ?? 'raw';
    if (diskFormat !== 'raw' && diskFormat !== 'qcow2') throw invalidInput(`Invalid disk-format '${String(diskFormat)}' is specified. Allowed disk-formats are raw, qcow2.`);
    const force = body.force === undefined ? false : boolOf(body.force, 'force');
    const allowed = force ? ['available', 'in-use'] : ['available'];
    if (!allowed.includes(volume.status)) throw invalidVolume(`Volume ${volume.id} status must be ${allowed.join(' or ')}`);
    const visibility = minor >= 1 && typeof body.visibility === 'string' ? body.visibility : 'private';
    const isProtected = minor >= 1 && body.protected !== undefined ? boolOf(body.protected, 'protected') : false;
    const imageMetadata = JSON.parse(volume.image_metadata) as Record<string, string>;
    const inherited = Object.fromEntries(Object.entries(imageMetadata).filter(([k]) => !['image_id', 'image_name', 'checksum', 'container_format', 'disk_format', 'min_disk', 'min_ram', 'size'].includes(k)));
    const image = await createUploadImage(deps, caller, {
      name, diskFormat, containerFormat: typeof body.container_format === 'string' ? body.container_format : 'bare', visibility, protected: isProtected, properties: inherited,
    });
    const r = await deps.db.updateTable('volume_volume')
      .set({ status: 'uploading', pending: JSON.stringify({ kind: 'upload', imageId: image.id, format: diskFormat, previousStatus: volume.status }), updated_at: isoNow(deps) })
      .where('id', '=', volume.id).where('status', '=', volume.status).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw invalidVolume(`Volume ${volume.id} status changed while the upload was being requested.`);
    return {
      status: 202,
      body: {
        'os-volume_upload_image': {
          id: volume.id, updated_at: image.updated_at, status: 'uploading', display_description: volume.description, size: volume.size,
          volume_type: null, image_id: image.id, container_format: image.container_format, disk_format: image.disk_format, image_name: image.name,
          protected: isProtected, visibility,
        },
      },
    };
  },
};

/** Runs the one action the body names; 400 like Cinder for an unknown one. */
export async function volumeAction(deps: VolumeDeps, caller: Caller, minor: number, volumeId: string, body: unknown): Promise<ActionResult> {
  const obj = objectOf(body);
  const names = Object.keys(obj);
  const name = names.find((n) => n in VOLUME_ACTIONS);
  if (names.length !== 1 || !name) throw cinderError('ERR_VALIDATION', 'There is no such action: ' + (names[0] ?? 'None'));
  const volume = await visibleVolume(deps.db, caller, volumeId);
  const result = await VOLUME_ACTIONS[name]({ deps, caller, minor, volume, body: obj[name] });
  await markVolumeChanged(deps);
  return result;
}
