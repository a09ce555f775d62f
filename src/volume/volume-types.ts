/**
 * Volume types (admin writes): `__DEFAULT__` from the migration, extra specs (`multiattach` is the
 * one Kumo acts on), private types with project access.
 * @module
 */
import type { Selectable } from 'kysely';
import { isUniqueViolation } from '../store/database.js';
import type { Db } from '../store/database.js';
import { cinderError, invalidInput, isoNow, policyDenied } from './context.js';
import type { Caller, VolumeDeps } from './context.js';
import type { VolumeTypeTable } from './schema.js';

export type VolumeTypeRow = Selectable<VolumeTypeTable>;

export const typeNotFound = (id: string) => cinderError('ERR_NOT_FOUND', `Volume type ${id} could not be found.`);
export const typeNameNotFound = (name: string) => cinderError('ERR_NOT_FOUND', `Volume type with name ${name} could not be found.`);

export const specsOf = (t: VolumeTypeRow): Record<string, string> => JSON.parse(t.extra_specs) as Record<string, string>;

async function accessible(db: Db, caller: Caller, t: VolumeTypeRow): Promise<boolean> {
  if (t.is_public || caller.isAdmin) return true;
  return !!(await db.selectFrom('volume_type_access').select('project_id').where('volume_type_id', '=', t.id).where('project_id', '=', caller.projectId).executeTakeFirst());
}

export async function getVolumeType(deps: VolumeDeps, caller: Caller, id: string): Promise<VolumeTypeRow> {
  const t = await deps.db.selectFrom('volume_type').selectAll().where('id', '=', id).executeTakeFirst();
  if (!t || !(await accessible(deps.db, caller, t))) throw typeNotFound(id);
  return t;
}

/** The type a volume create names (by name first, then id, as Cinder's get_by_name_or_id), or the default. */
export async function resolveVolumeType(deps: VolumeDeps, caller: Caller, nameOrId: string | null | undefined): Promise<VolumeTypeRow> {
  const db = deps.db;
  if (nameOrId === null || nameOrId === undefined || nameOrId === '') return defaultVolumeType(deps);
  const t = (await db.selectFrom('volume_type').selectAll().where('name', '=', nameOrId).executeTakeFirst())
    ?? (await db.selectFrom('volume_type').selectAll().where('id', '=', nameOrId).executeTakeFirst());
  if (!t || !(await accessible(db, caller, t))) throw typeNameNotFound(nameOrId);
  return t;
}

export async function defaultVolumeType(deps: VolumeDeps): Promise<VolumeTypeRow> {
  return deps.db.selectFrom('volume_type').selectAll().where('name', '=', '__DEFAULT__').executeTakeFirstOrThrow();
}

export async function listVolumeTypes(deps: VolumeDeps, caller: Caller, isPublicFilter: string | undefined): Promise<VolumeTypeRow[]> {
  const all = await deps.db.selectFrom('volume_type').selectAll().orderBy('name').execute();
  // Cinder: admins see public types, or private ones with is_public=false, or both with None.
  const wanted = (t: VolumeTypeRow) => {
    if (!caller.isAdmin) return true;
    const f = (isPublicFilter ?? 'true').toLowerCase();
    if (f === 'none') return true;
    return (f === 'false' || f === '0') ? !t.is_public : !!t.is_public;
  };
  const out: VolumeTypeRow[] = [];
  for (const t of all) if (wanted(t) && (await accessible(deps.db, caller, t))) out.push(t);
  return out;
}

function checkSpecs(specs: unknown): Record<string, string> {
  if (specs === undefined || specs === null) return {};
  if (typeof specs !== 'object' || Array.isArray(specs)) throw invalidInput('extra_specs must be an object.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(specs as Record<string, unknown>)) {
    if (k.length < 1 || k.length > 255) throw invalidInput(`Invalid extra_specs key ${k}.`);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalidInput(`Value for key ${k} must be a string.`);
    out[k] = String(v);
  }
  return out;
}

const isPublicOf = (v: unknown): boolean => {
  if (v === undefined || v === null) return true;
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['true', '1', 't', 'yes', 'y', 'on'].includes(s)) return true;
  if (['false', '0', 'f', 'no', 'n', 'off'].includes(s)) return false;
  throw invalidInput(`Invalid value '${String(v)}' for is_public. Accepted values: True or False.`);
};

export async function createVolumeType(deps: VolumeDeps, caller: Caller, body: Record<string, unknown>): Promise<VolumeTypeRow> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:types_manage');
  const name = typeof body.name === 'string' ? body.name.trim() : '';
  if (!name || name.length > 255) throw invalidInput('Volume type name can not be empty.');
  if (body.description !== undefined && body.description !== null && (typeof body.description !== 'string' || body.description.length > 255)) throw invalidInput('Volume type description is invalid.');
  const row: VolumeTypeRow = {
    id: deps.newId(), name, description: (body.description as string | null | undefined) ?? null, is_public: isPublicOf(body['os-volume-type-access:is_public'] ?? body.is_public) ? 1 : 0,
    extra_specs: JSON.stringify(checkSpecs(body.extra_specs)), created_at: isoNow(deps),
  };
  try {
    await deps.db.insertInto('volume_type').values(row).execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw cinderError('ERR_CONFLICT', `Volume Type ${name} already exists.`);
    throw err;
  }
  return row;
}

export async function updateVolumeType(deps: VolumeDeps, caller: Caller, id: string, body: Record<string, unknown>): Promise<VolumeTypeRow> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:types_manage');
  const t = await getVolumeType(deps, caller, id);
  const patch: Partial<VolumeTypeRow> = {};
  if (body.name !== undefined && body.name !== null) {
    if (typeof body.name !== 'string' || !body.name.trim() || body.name.length > 255) throw invalidInput('Volume type name can not be empty.');
    if (t.name === '__DEFAULT__' && body.name !== t.name) throw cinderError('ERR_BAD_REQUEST', 'The default volume type cannot be renamed.');
    patch.name = body.name.trim();
  }
  if (body.description !== undefined) patch.description = (body.description as string | null) ?? null;
  if (body.is_public !== undefined) patch.is_public = isPublicOf(body.is_public) ? 1 : 0;
  if (Object.keys(patch).length === 0) throw invalidInput('Specify volume type name, description, is_public or a combination thereof.');
  try {
    await deps.db.updateTable('volume_type').set(patch).where('id', '=', id).execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw cinderError('ERR_CONFLICT', `Volume Type ${String(patch.name)} already exists.`);
    throw err;
  }
  return { ...t, ...patch };
}

export async function deleteVolumeType(deps: VolumeDeps, caller: Caller, id: string): Promise<void> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:types_manage');
  const t = await getVolumeType(deps, caller, id);
  if (t.name === '__DEFAULT__') throw cinderError('ERR_BAD_REQUEST', 'Default volume type can not be deleted.');
  const used = await deps.db.selectFrom('volume_volume').select('id').where('volume_type_id', '=', id).executeTakeFirst();
  if (used) throw cinderError('ERR_BAD_REQUEST', `Target volume type is still in use. Volume Type ${id} deletion is not allowed with volumes present with the type.`);
  await deps.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('volume_type_access').where('volume_type_id', '=', id).execute();
    await tx.deleteFrom('volume_type').where('id', '=', id).execute();
  });
}

export async function setExtraSpecs(deps: VolumeDeps, caller: Caller, id: string, specs: unknown, replace: boolean): Promise<Record<string, string>> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:types_extra_specs:create');
  const t = await getVolumeType(deps, caller, id);
  const given = checkSpecs(specs);
  const next = replace ? given : { ...specsOf(t), ...given };
  await deps.db.updateTable('volume_type').set({ extra_specs: JSON.stringify(next) }).where('id', '=', id).execute();
  return given;
}

export async function deleteExtraSpec(deps: VolumeDeps, caller: Caller, id: string, key: string): Promise<void> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:types_extra_specs:delete');
  const t = await getVolumeType(deps, caller, id);
  const specs = specsOf(t);
  if (!(key in specs)) throw cinderError('ERR_NOT_FOUND', `Volume Type ${id} has no extra specs with key ${key}.`);
  delete specs[key];
  await deps.db.updateTable('volume_type').set({ extra_specs: JSON.stringify(specs) }).where('id', '=', id).execute();
}

export async function typeAccessList(deps: VolumeDeps, caller: Caller, id: string): Promise<string[]> {
  if (!caller.isAdmin) throw policyDenied('volume_extension:volume_type_access');
  const t = await getVolumeType(deps, caller, id);
  if (t.is_public) throw cinderError('ERR_NOT_FOUND', 'Access list not available for public volume types.');
  const rows = await deps.db.selectFrom('volume_type_access').select('project_id').where('volume_type_id', '=', id).orderBy('project_id').execute();
  return rows.map((r) => r.project_id);
}

export async function changeTypeAccess(deps: VolumeDeps, caller: Caller, id: string, projectId: unknown, add: boolean): Promise<void> {
  if (!caller.isAdmin) throw policyDenied(add ? 'volume_extension:volume_type_access:addProjectAccess' : 'volume_extension:volume_type_access:removeProjectAccess');
  if (typeof projectId !== 'string' || !projectId) throw invalidInput('Missing required element project in request body.');
  const t = await getVolumeType(deps, caller, id);
  if (t.is_public) throw invalidInput('Type access modification is not applicable to public volume type.');
  if (add) {
    try {
      await deps.db.insertInto('volume_type_access').values({ volume_type_id: id, project_id: projectId }).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw cinderError('ERR_CONFLICT', `Volume type access for ${id} / ${projectId} combination already exists.`);
      throw err;
    }
  } else {
    const r = await deps.db.deleteFrom('volume_type_access').where('volume_type_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw cinderError('ERR_NOT_FOUND', `Volume type access not found for ${id} / ${projectId} combination.`);
  }
}

/**
 * Cinder's volume type JSON. `answering` says which request it answers: Cinder's create answer has no
 * `qos_specs_id` and its update answer neither that nor `os-volume-type-access:is_public` (the
 * access extension decorates show, list and create only).
 */
export function renderVolumeType(t: VolumeTypeRow, admin: boolean, answering: 'read' | 'create' | 'update' = 'read') {
  const out: Record<string, unknown> = {
    id: t.id, name: t.name, description: t.description, is_public: !!t.is_public,
    // Cinder shows extra specs to admins only (policy volume_extension:access_types_extra_specs).
    extra_specs: admin ? specsOf(t) : {},
  };
  if (answering !== 'update') out['os-volume-type-access:is_public'] = !!t.is_public;
  if (answering === 'read') out.qos_specs_id = null;
  return out;
}
