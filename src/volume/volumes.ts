/**
 * Cinder volumes: create (blank, from an image, a snapshot or another volume; quotas and the
 * choice of host in one transaction), list with Cinder's filters, sort and paging, show, update,
 * delete (cascade to snapshots), metadata, and the volume JSON clients read.
 * @module
 */
import type { Selectable } from 'kysely';
import type { Db } from '../store/database.js';
import { cinderError, cinderTime, GIB, invalidInput, invalidVolume, isoNow, isTrueSpec, markVolumeChanged, volumeNotFound } from './context.js';
import type { Caller, VolumeDeps } from './context.js';
import { NO_VALID_BACKEND, pickVolumeHost } from './hosts.js';
import { volumeImage } from './image-access.js';
import { checkVolumeQuota, lockProjectQuota } from './quotas.js';
import type { VolumeAttachmentTable, VolumeTable } from './schema.js';
import { resolveVolumeType, specsOf } from './volume-types.js';

export type VolumeRow = Selectable<VolumeTable>;
export type AttachmentRow = Selectable<VolumeAttachmentTable>;

/** Work the controller carries out once on the volume's host. */
export type PendingWork =
  | { readonly kind: 'extend'; readonly newSize: number }
  | { readonly kind: 'upload'; readonly imageId: string; readonly format: 'raw' | 'qcow2'; readonly previousStatus: string }
  // An admin's os-reset_status: as in Cinder it changes the record only, so the controller leaves the volume be.
  | { readonly kind: 'reset' };

export const pendingOf = (row: Pick<VolumeRow, 'pending'>): PendingWork | null => (row.pending ? (JSON.parse(row.pending) as PendingWork) : null);
export const metadataOf = (row: { metadata: string }): Record<string, string> => JSON.parse(row.metadata) as Record<string, string>;

/** The volume as the caller may see it (its project's, or any for admins); 404 otherwise. */
export async function visibleVolume(db: Db, caller: Caller, id: string): Promise<VolumeRow> {
  const row = await db.selectFrom('volume_volume').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw volumeNotFound(id);
  return row;
}

export async function attachmentsOf(db: Db, volumeIds: readonly string[]): Promise<Map<string, AttachmentRow[]>> {
  const out = new Map<string, AttachmentRow[]>();
  if (volumeIds.length === 0) return out;
  const rows = await db.selectFrom('volume_attachment').selectAll().where('volume_id', 'in', volumeIds).orderBy('created_at').execute();
  for (const r of rows) out.set(r.volume_id, [...(out.get(r.volume_id) ?? []), r]);
  return out;
}

/** Cinder's size parameter: an integer or a string of digits, at least 1. */
export function parseSize(value: unknown, field = 'size'): number {
  const asText = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value < 1) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${value}. ${value} is less than the minimum of 1`);
    return value;
  }
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) {
    if (Number(value) < 1) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${value}. ${value} is less than the minimum of 1`);
    return Number(value);
  }
  if (typeof value === 'string') throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${value}. ${asText} does not match '^[0-9]+$'`);
  throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${String(value)}. ${asText} is not of type 'integer', 'string'`);
}

/** Metadata as Cinder's schema allows: string keys of 1-255 characters, string values up to 255. */
export function parseMetadata(value: unknown, field = 'metadata'): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. ${JSON.stringify(value)} is not of type 'object'`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.length < 1 || k.length > 255) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. '${k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{1,255}$'`);
    if (typeof v !== 'string') throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${k}. Value: ${JSON.stringify(v)}. ${JSON.stringify(v)} is not of type 'string'`);
    if (v.length > 255) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${k}. Value: ${v}. '${v}' is too long`);
    out[k] = v;
  }
  return out;
}

function optionalText(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. ${JSON.stringify(value)} is not of type 'string', 'null'`);
  if (value.length > 255) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${value}. '${value}' is too long`);
  return value;
}

export interface VolumeCreateInput {
  readonly size?: number;
  readonly name: string | null;
  readonly description: string | null;
  readonly volumeType?: string | null;
  readonly availabilityZone?: string | null;
  readonly imageId?: string | null;
  readonly snapshotId?: string | null;
  readonly sourceVolumeId?: string | null;
  readonly metadata: Record<string, string>;
  readonly multiattach?: boolean;
}

/** A create body (`{"volume": {...}}`), checked whole before anything is written. */
export function parseCreateBody(v: Record<string, unknown>): VolumeCreateInput {
  const sourceGiven = (v.snapshot_id ?? v.source_volid ?? null) !== null;
  if ((v.size === undefined || v.size === null) && !sourceGiven) throw cinderError('ERR_VALIDATION', 'Invalid input received: Size must be specified for a volume that is not created from a snapshot, a volume or a backup.');
  for (const k of ['backup_id', 'consistencygroup_id', 'group_id'] as const) {
    if (v[k] !== undefined && v[k] !== null) throw invalidInput(`${k} is not supported by this cloud.`);
  }
  return {
    size: v.size === undefined || v.size === null ? undefined : parseSize(v.size),
    name: optionalText(v.name ?? v.display_name, 'name'),
    description: optionalText(v.description ?? v.display_description, 'description'),
    volumeType: optionalText(v.volume_type, 'volume_type'),
    availabilityZone: optionalText(v.availability_zone, 'availability_zone'),
    imageId: optionalText(v.imageRef ?? v.image_id, 'imageRef'),
    snapshotId: optionalText(v.snapshot_id, 'snapshot_id'),
    sourceVolumeId: optionalText(v.source_volid, 'source_volid'),
    metadata: parseMetadata(v.metadata),
    multiattach: v.multiattach === true || v.multiattach === 'true' || v.multiattach === 'True',
  };
}

/**
 * Writes a new volume in `creating` on the host that will make its file (a live host with the
 * most free space; the source's host for copies), or in `error` with Cinder's "No valid backend"
 * when none is up. Quotas and the insert share one transaction under the project's quota lock.
 */
export async function createVolumeRow(deps: VolumeDeps, caller: Caller, input: VolumeCreateInput): Promise<VolumeRow> {
  const sources = [input.imageId, input.snapshotId, input.sourceVolumeId].filter((s) => s);
  if (sources.length > 1) throw invalidInput('Cannot create a volume from more than one of an image, a snapshot and a volume.');
  const type = await resolveVolumeType(deps, caller, input.volumeType);
  const zone = input.availabilityZone ?? deps.config.volume.availabilityZone;
  if (zone !== deps.config.volume.availabilityZone) throw cinderError('ERR_BAD_REQUEST', `Availability zone '${zone}' is invalid.`);
  let size = input.size;
  let host: string | null | undefined;
  let imageMetadata: Record<string, string> = {};
  let bootable = false;
  if (input.imageId) {
    const image = await volumeImage(deps, caller, input.imageId);
    size ??= 1;
    const needed = Math.ceil(Math.max(image.virtualSizeBytes ?? 0, image.sizeBytes) / GIB);
    if (needed > size) throw invalidInput(`Size of specified image ${needed}GB is larger than volume size ${size}GB.`);
    if (image.minDisk > size) throw invalidInput(`Volume size ${size}GB cannot be smaller than the image minDisk size ${image.minDisk}GB.`);
    imageMetadata = image.metadata;
    bootable = true;
  }
  if (input.snapshotId) {
    const snap = await deps.db.selectFrom('volume_snapshot').selectAll().where('id', '=', input.snapshotId).executeTakeFirst();
    if (!snap || (!caller.isAdmin && snap.project_id !== caller.projectId)) throw cinderError('ERR_NOT_FOUND', `Snapshot ${input.snapshotId} could not be found.`);
    if (snap.status !== 'available') throw cinderError('ERR_BAD_REQUEST', `Invalid snapshot: Originating snapshot status must be one of 'available' values`);
    size ??= snap.size;
    if (size < snap.size) throw invalidInput(`Volume size '${size}'GB cannot be smaller than the snapshot size ${snap.size}GB. They must be >= original snapshot size.`);
    host = snap.host;
    const parent = await deps.db.selectFrom('volume_volume').select(['bootable', 'image_metadata']).where('id', '=', snap.volume_id).executeTakeFirst();
    bootable = !!parent?.bootable;
    imageMetadata = parent ? (JSON.parse(parent.image_metadata) as Record<string, string>) : {};
  }
  if (input.sourceVolumeId) {
    const src = await visibleVolume(deps.db, caller, input.sourceVolumeId);
    if (src.status !== 'available' && src.status !== 'in-use') throw invalidVolume(`Unable to clone volumes that are in ${src.status} state.`);
    size ??= src.size;
    if (size < src.size) throw invalidInput(`Volume size '${size}'GB cannot be smaller than original volume size ${src.size}GB. They must be >= original volume size.`);
    host = src.host;
    bootable = !!src.bootable;
    imageMetadata = JSON.parse(src.image_metadata) as Record<string, string>;
  }
  const finalSize = size!;
  const now = isoNow(deps);
  const row = await deps.db.transaction().execute(async (tx) => {
    await lockProjectQuota(deps, tx, caller.projectId);
    await checkVolumeQuota(deps, tx, caller.projectId, type.name, { volumes: 1, gigabytes: finalSize, perVolumeSize: finalSize });
    const chosen = host === undefined ? await pickVolumeHost(deps, tx, zone) : host;
    const r: VolumeRow = {
      id: deps.newId(), project_id: caller.projectId, user_id: caller.userId, name: input.name, description: input.description, size: finalSize,
      status: chosen ? 'creating' : 'error', status_reason: chosen ? null : NO_VALID_BACKEND, host: chosen, availability_zone: zone,
      volume_type_id: type.id, snapshot_id: input.snapshotId ?? null, source_volid: input.sourceVolumeId ?? null, image_id: input.imageId ?? null,
      bootable: bootable ? 1 : 0, readonly: READONLY_UNSET,
      // The body's multiattach flag is Cinder's deprecated but honoured way (Tempest's compute tests use it).
      multiattach: input.multiattach || isTrueSpec(specsOf(type).multiattach) ? 1 : 0,
      metadata: JSON.stringify(input.metadata), image_metadata: JSON.stringify(imageMetadata), pending: null, created_at: now, updated_at: now,
    };
    await tx.insertInto('volume_volume').values(r).execute();
    return r;
  });
  if (!row.host) deps.logger.warn({ volume: row.id }, 'no volume host is up; the volume is in error');
  await markVolumeChanged(deps);
  return row;
}

// ---- listing ----

export type QueryValue = string | string[] | undefined;
const last = (v: QueryValue): string | undefined => (Array.isArray(v) ? v.at(-1) : v);

const SORT_KEYS: Record<string, (r: VolumeRow) => string | number> = {
  id: (r) => r.id, name: (r) => r.name ?? '', status: (r) => r.status, size: (r) => r.size, created_at: (r) => r.created_at, updated_at: (r) => r.updated_at,
  availability_zone: (r) => r.availability_zone, bootable: (r) => r.bootable, project_id: (r) => r.project_id, volume_type_id: (r) => r.volume_type_id,
  // Cinder's sort keys are its column names; volumes keep the name in display_name.
  display_name: (r) => r.name ?? '',
};

/** Cinder's `sort=k1:asc,k2` or `sort_key`/`sort_dir` (default created_at desc, then id desc). */
export function parseSort<T>(q: Record<string, QueryValue>, keys: Record<string, (r: T) => string | number>): (a: T, b: T) => number {
  const spec: [string, 'asc' | 'desc'][] = [];
  const sort = last(q.sort);
  if (sort) {
    for (const part of sort.split(',')) {
      const [k, d = 'desc'] = part.trim().split(':');
      spec.push([k, d.toLowerCase() as 'asc']);
    }
  } else if (last(q.sort_key)) spec.push([last(q.sort_key)!, (last(q.sort_dir) ?? 'desc').toLowerCase() as 'asc']);
  if (!spec.length) spec.push(['created_at', 'desc']);
  for (const [k, d] of spec) {
    if (!(k in keys)) throw invalidInput(`Invalid sort key: ${k}`);
    if (d !== 'asc' && d !== 'desc') throw invalidInput(`Unknown sort direction, must be 'desc' or 'asc'`);
  }
  if (!spec.some(([k]) => k === 'id')) spec.push(['id', spec[0][1]]);
  return (a, b) => {
    for (const [k, d] of spec) {
      const x = keys[k](a);
      const y = keys[k](b);
      if (x !== y) return (x < y ? -1 : 1) * (d === 'asc' ? 1 : -1);
    }
    return 0;
  };
}

/** Cinder's metadata filter: a dict literal (`{'k': 'v'}` from cinderclient, or JSON). */
export function parseMetadataFilter(v: string): Record<string, string> {
  try {
    const parsed = JSON.parse(v.replace(/'/g, '"')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return Object.fromEntries(Object.entries(parsed).map(([k, x]) => [k, String(x)]));
  } catch {
    // falls through to the error below
  }
  throw invalidInput(`Invalid metadata filter: ${v}`);
}

/** Limit and marker over sorted rows: the page and the marker of the next one (when the page is full). */
export function pageOf<T extends { id: string }>(rows: T[], q: Record<string, QueryValue>, what: string): { page: T[]; next: string | undefined } {
  const limitText = last(q.limit);
  let limit: number | undefined;
  if (limitText !== undefined && limitText !== '') {
    if (!/^\d+$/.test(limitText)) throw invalidInput('limit param must be an integer');
    limit = Number(limitText);
  }
  let start = 0;
  const marker = last(q.marker);
  if (marker) {
    const i = rows.findIndex((r) => r.id === marker);
    if (i < 0) throw cinderError('ERR_NOT_FOUND', `Marker ${marker} could not be found.`);
    start = i + 1;
  }
  const offsetText = last(q.offset);
  if (offsetText !== undefined && offsetText !== '') {
    if (!/^\d+$/.test(offsetText)) throw invalidInput('offset param must be an integer');
    start += Number(offsetText);
  }
  const page = limit === undefined ? rows.slice(start) : rows.slice(start, start + limit);
  // Cinder links a next page whenever a page is full, even when nothing follows (that page is then empty).
  const next = limit !== undefined && limit > 0 && page.length === limit ? page.at(-1)!.id : undefined;
  void what;
  return { page, next };
}

const truthy = (v: string) => ['1', 'true', 't', 'yes', 'y', 'on'].includes(v.toLowerCase());

export async function listVolumes(deps: VolumeDeps, caller: Caller, q: Record<string, QueryValue>): Promise<{ rows: VolumeRow[]; count: number; next: string | undefined }> {
  const allTenants = caller.isAdmin && !!last(q.all_tenants) && truthy(last(q.all_tenants)!);
  let query = deps.db.selectFrom('volume_volume').selectAll();
  const projectFilter = last(q.project_id);
  if (!allTenants) query = query.where('project_id', '=', caller.projectId);
  else if (projectFilter) query = query.where('project_id', '=', projectFilter);
  const name = last(q.name) ?? last(q.display_name);
  if (name !== undefined) query = query.where('name', '=', name);
  const status = last(q.status);
  if (status !== undefined) query = query.where('status', '=', status);
  const zone = last(q.availability_zone);
  if (zone !== undefined) query = query.where('availability_zone', '=', zone);
  const bootable = last(q.bootable);
  if (bootable !== undefined) query = query.where('bootable', '=', truthy(bootable) ? 1 : 0);
  let rows = await query.execute();
  const metadata = last(q.metadata);
  if (metadata) {
    const want = parseMetadataFilter(metadata);
    rows = rows.filter((r) => {
      const m = metadataOf(r);
      return Object.entries(want).every(([k, v]) => m[k] === v);
    });
  }
  rows.sort(parseSort(q, SORT_KEYS));
  const { page, next } = pageOf(rows, q, 'volumes');
  return { rows: page, count: rows.length, next };
}

// ---- update, delete, metadata ----

export async function updateVolume(deps: VolumeDeps, caller: Caller, id: string, v: Record<string, unknown>): Promise<VolumeRow> {
  const row = await visibleVolume(deps.db, caller, id);
  const patch: Partial<VolumeRow> = {};
  if ('name' in v || 'display_name' in v) patch.name = optionalText(v.name ?? v.display_name, 'name');
  if ('description' in v || 'display_description' in v) patch.description = optionalText(v.description ?? v.display_description, 'description');
  if ('metadata' in v) patch.metadata = JSON.stringify(parseMetadata(v.metadata));
  if (Object.keys(patch).length === 0) throw cinderError('ERR_VALIDATION', "Invalid input for field/attribute volume. Value: {}. {} does not have enough properties");
  patch.updated_at = isoNow(deps);
  await deps.db.updateTable('volume_volume').set(patch).where('id', '=', id).execute();
  return { ...row, ...patch };
}

const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];

/**
 * Marks the volume (and with `cascade` its snapshots) `deleting`; the controller removes the files
 * and then the rows. Refused, changing nothing, while attached, while it has snapshots (without
 * cascade) or in a busy state; `force` (admin) skips the state check but not attachments.
 */
export async function deleteVolume(deps: VolumeDeps, caller: Caller, id: string, options: { cascade?: boolean; force?: boolean } = {}): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const row = await visibleVolume(tx, caller, id);
    const attached = await tx.selectFrom('volume_attachment').select('id').where('volume_id', '=', id).executeTakeFirst();
    const snapshots = await tx.selectFrom('volume_snapshot').select(['id', 'status']).where('volume_id', '=', id).execute();
    const stateOk = options.force === true || DELETABLE.includes(row.status);
    const snapshotsOk = snapshots.length === 0 || (options.cascade && snapshots.every((s) => s.status === 'available' || s.status === 'error' || s.status === 'deleting'));
    if (!stateOk || attached || !snapshotsOk) {
      throw invalidVolume(`Volume status must be ${DELETABLE.join(' or ')} and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.`);
    }
    const now = isoNow(deps);
    if (snapshots.length) await tx.updateTable('volume_snapshot').set({ status: 'deleting', status_reason: null, updated_at: now }).where('volume_id', '=', id).execute();
    // A volume no host ever took has no file: its row goes at once.
    if (!row.host) await tx.deleteFrom('volume_volume').where('id', '=', id).execute();
    else await tx.updateTable('volume_volume').set({ status: 'deleting', pending: null, updated_at: now }).where('id', '=', id).execute();
  });
  await markVolumeChanged(deps);
}

export async function setVolumeMetadata(deps: VolumeDeps, caller: Caller, id: string, metadata: unknown, replace: boolean): Promise<Record<string, string>> {
  const given = parseMetadata(metadata);
  return deps.db.transaction().execute(async (tx) => {
    const row = await visibleVolume(tx, caller, id);
    const next = replace ? given : { ...metadataOf(row), ...given };
    await tx.updateTable('volume_volume').set({ metadata: JSON.stringify(next), updated_at: isoNow(deps) }).where('id', '=', id).execute();
    return next;
  });
}

export async function deleteVolumeMetadataKey(deps: VolumeDeps, caller: Caller, id: string, key: string): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const row = await visibleVolume(tx, caller, id);
    const m = metadataOf(row);
    if (!(key in m)) throw cinderError('ERR_NOT_FOUND', `Volume ${id} has no metadata with key ${key}.`);
    delete m[key];
    await tx.updateTable('volume_volume').set({ metadata: JSON.stringify(m), updated_at: isoNow(deps) }).where('id', '=', id).execute();
  });
}

// ---- the JSON clients read ----

export interface VolumeViewContext {
  readonly caller: Caller;
  readonly minor: number;
  /** `{publicUrl}/volume`. */
  readonly base: string;
  /** Type id → name. */
  readonly typeNames: Map<string, string>;
}

export async function typeNamesOf(db: Db): Promise<Map<string, string>> {
  return new Map((await db.selectFrom('volume_type').select(['id', 'name']).execute()).map((t) => [t.id, t.name]));
}

/** volume_volume.readonly: Cinder's read-only admin metadata is absent until first set. */
export const READONLY_UNSET = 0;
export const READONLY_TRUE = 1;
export const READONLY_FALSE = 2;

export const cinderLinks = (base: string, projectId: string, collection: string, id: string) => [
  { rel: 'self', href: `${base}/v3/${projectId}/${collection}/${id}` },
  { rel: 'bookmark', href: `${base}/${projectId}/${collection}/${id}` },
];

export function renderVolumeSummary(ctx: VolumeViewContext, row: VolumeRow) {
  return { id: row.id, name: row.name, links: cinderLinks(ctx.base, row.project_id, 'volumes', row.id) };
}

/**
 * Cinder's volume detail at the request's microversion; attachments shown are the attached ones.
 * `reading` is false for the answers to create and update: Cinder adds the tenant, image metadata,
 * host and migration attributes (its os-vol-* API extensions) to GET show and detail only, and
 * strict clients (Tempest's schemas) refuse them elsewhere.
 */
export function renderVolume(ctx: VolumeViewContext, row: VolumeRow, attachments: readonly AttachmentRow[], reading = true) {
  const { minor, caller } = ctx;
  const metadata = metadataOf(row);
  // Cinder shows the read-only flag, once set, among the metadata of GET answers (visible admin metadata).
  if (reading && row.readonly !== READONLY_UNSET) metadata.readonly = row.readonly === READONLY_TRUE ? 'True' : 'False';
  const imageMetadata = JSON.parse(row.image_metadata) as Record<string, string>;
  const out: Record<string, unknown> = {
    id: row.id, name: row.name, status: row.status, size: row.size, availability_zone: row.availability_zone,
    created_at: cinderTime(row.created_at), updated_at: cinderTime(row.updated_at),
    attachments: attachments.filter((a) => a.status === 'attached').map((a) => ({
      id: row.id, attachment_id: a.id, volume_id: row.id, server_id: a.instance_id, host_name: a.host_name, device: a.mountpoint,
      attached_at: a.attached_at ? cinderTime(a.attached_at) : null,
    })),
    bootable: row.bootable ? 'true' : 'false', encrypted: false, multiattach: !!row.multiattach, description: row.description,
    volume_type: ctx.typeNames.get(row.volume_type_id) ?? null, snapshot_id: row.snapshot_id, source_volid: row.source_volid,
    metadata, links: cinderLinks(ctx.base, row.project_id, 'volumes', row.id), user_id: row.user_id,
    consistencygroup_id: null, replication_status: null,
  };
  if (reading) {
    out['os-vol-tenant-attr:tenant_id'] = row.project_id;
    if (Object.keys(imageMetadata).length) out.volume_image_metadata = imageMetadata;
  }
  if (caller.isAdmin) {
    if (reading) {
      out['os-vol-host-attr:host'] = row.host ? `${row.host}@kumo#kumo` : null;
      out['os-vol-mig-status-attr:migstat'] = null;
      out['os-vol-mig-status-attr:name_id'] = null;
    }
    out.migration_status = null;
    // Kumo's extension: why the last operation on the volume failed. Only when there is one, since
    // strict clients (Tempest's schemas) refuse keys Cinder does not have.
    if (row.status_reason !== null) out.status_reason = row.status_reason;
  }
  if (minor >= 13) out.group_id = null;
  if (minor >= 21) out.provider_id = null;
  if (minor >= 48) {
    out.service_uuid = row.host ? serviceUuid(row.host) : null;
    out.shared_targets = false;
  }
  if (minor >= 61 && caller.isAdmin) out.cluster_name = null;
  if (minor >= 63) out.volume_type_id = row.volume_type_id;
  if (minor >= 65) out.consumes_quota = true;
  return out;
}

/** A stable UUID-shaped id for a volume host (Cinder's service uuid). */
export function serviceUuid(host: string): string {
  let h = 0x811c9dc5;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const ch of `${round}:${host}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}
