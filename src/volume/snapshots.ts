/**
 * Cinder snapshots: a copy of a volume's file on its host, made by the controller. Create checks
 * the volume's state (in-use only with force) and the snapshot quotas in one transaction.
 * @module
 */
import type { Selectable } from 'kysely';
import type { Db } from '../store/database.js';
import { cinderError, cinderTime, invalidSnapshot, invalidVolume, isoNow, markVolumeChanged, snapshotNotFound } from './context.js';
import type { Caller, VolumeDeps } from './context.js';
import { checkVolumeQuota, lockProjectQuota } from './quotas.js';
import type { VolumeSnapshotTable } from './schema.js';
import { metadataOf, pageOf, parseMetadata, parseMetadataFilter, parseSort, visibleVolume } from './volumes.js';
import type { QueryValue } from './volumes.js';

export type SnapshotRow = Selectable<VolumeSnapshotTable>;

export async function visibleSnapshot(db: Db, caller: Caller, id: string): Promise<SnapshotRow> {
  const row = await db.selectFrom('volume_snapshot').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || (!caller.isAdmin && row.project_id !== caller.projectId)) throw snapshotNotFound(id);
  return row;
}

const text = (v: unknown, field: string): string | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > 255) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(v)}. ${JSON.stringify(v)} is not of type 'string', 'null'`);
  return v;
};

const boolOf = (v: unknown, field: string): boolean => {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['true', '1', 't', 'yes', 'y', 'on'].includes(s)) return true;
  if (['false', '0', 'f', 'no', 'n', 'off'].includes(s)) return false;
  throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute ${field}. Value: ${String(v)}. '${String(v)}' is not a valid boolean`);
};

/**
 * The status_reason of a snapshot whose status an admin reset: as in Cinder that changes the record
 * only, so the controller leaves a snapshot reset to `creating` or `deleting` as it is.
 */
export const STATUS_RESET = 'Status reset by an administrator.';

export async function createSnapshot(deps: VolumeDeps, caller: Caller, body: Record<string, unknown>, minor: number): Promise<SnapshotRow> {
  const volumeId = body.volume_id;
  if (!('volume_id' in body)) throw cinderError('ERR_VALIDATION', "Invalid input for field/attribute snapshot. Value: {}. 'volume_id' is a required property");
  // Cinder's schema allows a null volume_id, which then names no volume.
  if (volumeId === null) throw cinderError('ERR_NOT_FOUND', 'Volume None could not be found.');
  if (typeof volumeId !== 'string' || !volumeId) throw cinderError('ERR_VALIDATION', `Invalid input for field/attribute volume_id. Value: ${JSON.stringify(volumeId)}. ${JSON.stringify(volumeId)} is not a 'uuid'`);
  const name = text(body.name ?? body.display_name, 'name');
  const description = text(body.description ?? body.display_description, 'description');
  // From 3.66 an in-use volume needs no force (and force=false is refused); before, in-use needs force.
  const force = minor >= 66 ? true : boolOf(body.force, 'force');
  if (minor >= 66 && body.force !== undefined && !boolOf(body.force, 'force')) throw cinderError('ERR_VALIDATION', "Invalid input for field/attribute force. Value: False. Since microversion 3.66 the 'force' flag is invalid for this request.");
  const metadata = parseMetadata(body.metadata);
  const row = await deps.db.transaction().execute(async (tx) => {
    const volume = await visibleVolume(tx, caller, volumeId);
    const allowed = force ? ['available', 'in-use'] : ['available'];
    if (!allowed.includes(volume.status)) throw invalidVolume(`Volume ${volume.id} status must be ${allowed.join(', ')}, but current status is: ${volume.status}.`);
    const typeName = (await tx.selectFrom('volume_type').select('name').where('id', '=', volume.volume_type_id).executeTakeFirst())?.name ?? '__DEFAULT__';
    await lockProjectQuota(deps, tx, volume.project_id);
    await checkVolumeQuota(deps, tx, volume.project_id, typeName, { snapshots: 1, gigabytes: volume.size });
    const now = isoNow(deps);
    const r: SnapshotRow = {
      id: deps.newId(), project_id: volume.project_id, user_id: caller.userId, volume_id: volume.id, name, description, size: volume.size,
      status: 'creating', status_reason: null, host: volume.host, metadata: JSON.stringify(metadata), created_at: now, updated_at: now,
    };
    await tx.insertInto('volume_snapshot').values(r).execute();
    return r;
  });
  await markVolumeChanged(deps);
  return row;
}

const SORT_KEYS: Record<string, (r: SnapshotRow) => string | number> = {
  id: (r) => r.id, name: (r) => r.name ?? '', status: (r) => r.status, size: (r) => r.size, created_at: (r) => r.created_at, updated_at: (r) => r.updated_at,
  volume_id: (r) => r.volume_id, project_id: (r) => r.project_id,
  // Cinder's sort keys are its column names; snapshots keep the name in display_name.
  display_name: (r) => r.name ?? '',
};

export async function listSnapshots(deps: VolumeDeps, caller: Caller, q: Record<string, QueryValue>) {
  const last = (v: QueryValue) => (Array.isArray(v) ? v.at(-1) : v);
  const all = caller.isAdmin && ['1', 'true', 'True'].includes(last(q.all_tenants) ?? '');
  let query = deps.db.selectFrom('volume_snapshot').selectAll();
  if (!all) query = query.where('project_id', '=', caller.projectId);
  else if (last(q.project_id)) query = query.where('project_id', '=', last(q.project_id)!);
  for (const k of ['name', 'status', 'volume_id'] as const) {
    const v = last(q[k] ?? (k === 'name' ? q.display_name : undefined));
    if (v !== undefined) query = query.where(k, '=', v);
  }
  let rows = await query.execute();
  const metadata = last(q.metadata);
  if (metadata) {
    const want = parseMetadataFilter(metadata);
    rows = rows.filter((r) => Object.entries(want).every(([k, v]) => metadataOf(r)[k] === v));
  }
  rows.sort(parseSort(q, SORT_KEYS));
  const { page, next } = pageOf(rows, q, 'snapshots');
  return { rows: page, count: rows.length, next };
}

export async function updateSnapshot(deps: VolumeDeps, caller: Caller, id: string, body: Record<string, unknown>): Promise<SnapshotRow> {
  const row = await visibleSnapshot(deps.db, caller, id);
  const patch: Partial<SnapshotRow> = {};
  if ('name' in body || 'display_name' in body) patch.name = text(body.name ?? body.display_name, 'name');
  if ('description' in body || 'display_description' in body) patch.description = text(body.description ?? body.display_description, 'description');
  if (Object.keys(patch).length === 0) throw cinderError('ERR_VALIDATION', 'Invalid input for field/attribute snapshot. Value: {}. {} does not have enough properties');
  patch.updated_at = isoNow(deps);
  await deps.db.updateTable('volume_snapshot').set(patch).where('id', '=', id).execute();
  return { ...row, ...patch };
}

export async function deleteSnapshot(deps: VolumeDeps, caller: Caller, id: string, force = false): Promise<void> {
  const row = await visibleSnapshot(deps.db, caller, id);
  const ok = force || ['available', 'error', 'error_deleting'].includes(row.status);
  if (!ok) throw invalidSnapshot('Snapshot status must be available or error and must not be part of a group.');
  const inUse = await deps.db.selectFrom('volume_volume').select('id').where('snapshot_id', '=', id).where('status', '=', 'creating').executeTakeFirst();
  if (inUse) throw invalidSnapshot(`Snapshot ${id} is being copied into volume ${inUse.id}.`);
  if (!row.host) await deps.db.deleteFrom('volume_snapshot').where('id', '=', id).execute();
  else await deps.db.updateTable('volume_snapshot').set({ status: 'deleting', status_reason: null, updated_at: isoNow(deps) }).where('id', '=', id).execute();
  await markVolumeChanged(deps);
}

export async function setSnapshotMetadata(deps: VolumeDeps, caller: Caller, id: string, metadata: unknown, replace: boolean): Promise<Record<string, string>> {
  const given = parseMetadata(metadata);
  const row = await visibleSnapshot(deps.db, caller, id);
  const next = replace ? given : { ...metadataOf(row), ...given };
  await deps.db.updateTable('volume_snapshot').set({ metadata: JSON.stringify(next), updated_at: isoNow(deps) }).where('id', '=', id).execute();
  return next;
}

export async function deleteSnapshotMetadataKey(deps: VolumeDeps, caller: Caller, id: string, key: string): Promise<void> {
  const row = await visibleSnapshot(deps.db, caller, id);
  const m = metadataOf(row);
  if (!(key in m)) throw cinderError('ERR_NOT_FOUND', `Snapshot ${id} has no metadata with key ${key}.`);
  delete m[key];
  await deps.db.updateTable('volume_snapshot').set({ metadata: JSON.stringify(m), updated_at: isoNow(deps) }).where('id', '=', id).execute();
}

/**
 * Cinder's snapshot JSON. `extended` adds the os-extended-snapshot-attributes (Cinder's API extension
 * decorates GET show and detail only: not the summary list, nor the create and update answers).
 * Snapshots have no links in Cinder.
 */
export function renderSnapshot(row: SnapshotRow, ctx: { base: string; minor: number; caller: Caller }, extended = true) {
  const out: Record<string, unknown> = {
    id: row.id, name: row.name, description: row.description, volume_id: row.volume_id, size: row.size, status: row.status,
    created_at: cinderTime(row.created_at), updated_at: cinderTime(row.updated_at), metadata: metadataOf(row),
  };
  if (extended) {
    out['os-extended-snapshot-attributes:project_id'] = row.project_id;
    out['os-extended-snapshot-attributes:progress'] = row.status === 'available' ? '100%' : '0%';
  }
  if (ctx.minor >= 14) out.group_snapshot_id = null;
  if (ctx.minor >= 41) out.user_id = row.user_id;
  if (ctx.minor >= 65) out.consumes_quota = true;
  return out;
}
