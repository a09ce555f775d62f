/**
 * Nova flavors: sizes servers are built from, with extra specs and, for private flavors, the
 * projects that may use them. A server keeps a copy of its flavor (`FlavorRecord`), so deleting or
 * changing a flavor never changes a server that runs.
 * @module
 */
import type { Selectable } from 'kysely';
import { conflict } from '../errors.js';
import { adminOnly, invalid, novaError } from './context.js';
import type { Caller, ComputeDeps } from './context.js';
import type { FlavorTable } from './schema.js';

export type FlavorRow = Selectable<FlavorTable>;

/** A flavor as a server keeps it. */
export interface FlavorRecord {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  extra_specs: Record<string, string>;
}

export interface FlavorInput {
  name?: unknown;
  id?: unknown;
  ram?: unknown;
  vcpus?: unknown;
  disk?: unknown;
  'OS-FLV-EXT-DATA:ephemeral'?: unknown;
  swap?: unknown;
  rxtx_factor?: unknown;
  'os-flavor-access:is_public'?: unknown;
  description?: unknown;
}

export const flavorNotFound = (id: string) => novaError('ERR_NOT_FOUND', `Flavor ${id} could not be found.`);

const ID_PATTERN = /^(?! )[a-zA-Z0-9. _-]+(?<! )$/;
const MAX_INT = 2147483647;
const MAX_DB_INT = 2147483647;

/** Nova accepts integers and integer strings for sizes. */
function intField(name: string, value: unknown, min: number, fallback?: number): number {
  if (value === undefined || value === null || value === '') {
    if (fallback !== undefined) return fallback;
    throw invalid(`Invalid input for field/attribute ${name}. Value: ${String(value)}. ${value === undefined ? `'${name}' is a required property` : 'None is not of type integer'}`);
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw invalid(`Invalid input for field/attribute ${name}. Value: ${String(value)}. '${String(value)}' is not of type integer`);
  if (n < min) throw invalid(`Invalid input for field/attribute ${name}. Value: ${n}. ${n} is less than the minimum of ${min}`);
  if (n > MAX_INT) throw invalid(`Invalid input for field/attribute ${name}. Value: ${n}. ${n} is greater than the maximum of ${MAX_INT}`);
  return n;
}

function boolField(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.toLowerCase();
    if (['true', '1', 'yes', 'on', 't', 'y'].includes(v)) return true;
    if (['false', '0', 'no', 'off', 'f', 'n'].includes(v)) return false;
  }
  throw invalid(`Invalid input for field/attribute ${name}. Value: ${String(value)}. ${JSON.stringify(value)} is not of type 'boolean'`);
}

function nameField(value: unknown): string {
  if (typeof value !== 'string') throw invalid(`Invalid input for field/attribute name. Value: ${String(value)}. ${value === undefined ? "'name' is a required property" : `${JSON.stringify(value)} is not of type 'string'`}`);
  if (value.length < 1 || value.length > 255 || value.trim() !== value) {
    throw invalid(`Invalid input for field/attribute name. Value: ${value}. '${value}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$' or is not 1 to 255 characters without leading or trailing whitespace`);
  }
  return value;
}

function descriptionField(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 65535) throw invalid(`Invalid input for field/attribute description. Value: ${String(value)}. It must be a string of at most 65535 characters`);
  return value;
}

export async function createFlavor(deps: ComputeDeps, caller: Caller, input: FlavorInput, minor: number): Promise<FlavorRow> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-flavor-manage:create');
  const name = nameField(input.name);
  let flavorid: string;
  if (input.id === undefined || input.id === null || input.id === '') flavorid = deps.newId();
  else {
    flavorid = String(input.id);
    if (typeof input.id !== 'string' && typeof input.id !== 'number') throw invalid(`Invalid input for field/attribute id. Value: ${String(input.id)}.`);
    if (flavorid.length > 255 || !ID_PATTERN.test(flavorid)) throw invalid(`Invalid input for field/attribute id. Value: ${flavorid}. '${flavorid}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'`);
  }
  const ram = intField('ram', input.ram, 1);
  const vcpus = intField('vcpus', input.vcpus, 1);
  const disk = intField('disk', input.disk, 0);
  const ephemeral = intField('OS-FLV-EXT-DATA:ephemeral', input['OS-FLV-EXT-DATA:ephemeral'], 0, 0);
  const swap = intField('swap', input.swap, 0, 0);
  if (ram > MAX_DB_INT || vcpus > MAX_DB_INT) throw invalid('Flavor size is out of range.');
  let rxtx = 1;
  if (input.rxtx_factor !== undefined) {
    rxtx = typeof input.rxtx_factor === 'number' ? input.rxtx_factor : Number(input.rxtx_factor);
    if (!Number.isFinite(rxtx) || rxtx <= 0 || rxtx > 3.40282e38) throw invalid(`Invalid input for field/attribute rxtx_factor. Value: ${String(input.rxtx_factor)}. It must be a number greater than 0`);
  }
  const isPublic = boolField('os-flavor-access:is_public', input['os-flavor-access:is_public'], true);
  if (input.description !== undefined && minor < 55) throw invalid("Invalid input for field/attribute flavor. Additional properties are not allowed ('description' was unexpected)");
  const description = descriptionField(input.description);
  const existing = await deps.db.selectFrom('compute_flavor').select(['flavorid', 'name']).where((eb) => eb.or([eb('flavorid', '=', flavorid), eb('name', '=', name)])).execute();
  if (existing.some((f) => f.name === name)) throw conflict(`Flavor with name ${name} already exists.`);
  if (existing.length) throw conflict(`Flavor with ID ${flavorid} already exists.`);
  const row: FlavorRow = {
    flavorid, name, vcpus, memory_mb: ram, root_gb: disk, ephemeral_gb: ephemeral, swap_mb: swap, rxtx_factor: rxtx,
    is_public: isPublic ? 1 : 0, disabled: 0, description, created_at: new Date(deps.now()).toISOString(),
  };
  await deps.db.insertInto('compute_flavor').values(row).execute();
  return row;
}

/** A flavor the caller may see: public ones, and private ones its project was given (admins see all). */
export async function getFlavor(deps: ComputeDeps, caller: Caller, flavorid: string): Promise<FlavorRow> {
  const row = await deps.db.selectFrom('compute_flavor').selectAll().where('flavorid', '=', flavorid).executeTakeFirst();
  if (!row || !(await canUse(deps, caller, row))) throw flavorNotFound(flavorid);
  return row;
}

async function canUse(deps: ComputeDeps, caller: Caller, row: FlavorRow): Promise<boolean> {
  if (row.is_public || caller.isAdmin) return true;
  const access = await deps.db.selectFrom('compute_flavor_access').select('project_id').where('flavorid', '=', row.flavorid).where('project_id', '=', caller.projectId).executeTakeFirst();
  return access !== undefined;
}

export interface FlavorListQuery {
  /** `true`, `false` or `none` (both; admins only, others get public + their own). */
  isPublic: 'true' | 'false' | 'none';
  minRam?: number;
  minDisk?: number;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  limit?: number;
  marker?: string;
}

const SORT_COLUMNS: Record<string, keyof FlavorRow> = {
  created_at: 'created_at', description: 'description', disabled: 'disabled', ephemeral_gb: 'ephemeral_gb', flavorid: 'flavorid', id: 'flavorid',
  is_public: 'is_public', memory_mb: 'memory_mb', name: 'name', root_gb: 'root_gb', rxtx_factor: 'rxtx_factor', swap: 'swap_mb', vcpus: 'vcpus',
};

export async function listFlavors(deps: ComputeDeps, caller: Caller, q: FlavorListQuery): Promise<FlavorRow[]> {
  const column = SORT_COLUMNS[q.sortKey];
  if (!column) throw invalid(`Invalid input for query parameters sort_key. Value: ${q.sortKey}.`);
  let rows = await deps.db.selectFrom('compute_flavor').selectAll().execute();
  const granted = new Set((await deps.db.selectFrom('compute_flavor_access').select('flavorid').where('project_id', '=', caller.projectId).execute()).map((r) => r.flavorid));
  rows = rows.filter((r) => {
    if (!caller.isAdmin) {
      // Nova: non-admins always get the public flavors plus the private ones granted to them.
      if (q.isPublic === 'false') return !r.is_public && granted.has(r.flavorid);
      return r.is_public || granted.has(r.flavorid);
    }
    if (q.isPublic === 'true') return r.is_public === 1;
    if (q.isPublic === 'false') return r.is_public === 0;
    return true;
  });
  if (q.minRam !== undefined) rows = rows.filter((r) => r.memory_mb >= q.minRam!);
  if (q.minDisk !== undefined) rows = rows.filter((r) => r.root_gb >= q.minDisk!);
  const dir = q.sortDir === 'desc' ? -1 : 1;
  rows.sort((a, b) => {
    const x = a[column] ?? '';
    const y = b[column] ?? '';
    if (x !== y) return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : 1) * dir;
    return a.flavorid < b.flavorid ? -1 : a.flavorid > b.flavorid ? 1 : 0;
  });
  if (q.marker !== undefined) {
    const at = rows.findIndex((r) => r.flavorid === q.marker);
    if (at < 0) throw invalid(`marker [${q.marker}] not found`);
    rows = rows.slice(at + 1);
  }
  return q.limit !== undefined ? rows.slice(0, q.limit) : rows;
}

export async function updateFlavorDescription(deps: ComputeDeps, caller: Caller, flavorid: string, description: unknown): Promise<FlavorRow> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-flavor-manage:update');
  const value = descriptionField(description);
  const row = await getFlavor(deps, caller, flavorid);
  await deps.db.updateTable('compute_flavor').set({ description: value }).where('flavorid', '=', flavorid).execute();
  return { ...row, description: value };
}

export async function deleteFlavor(deps: ComputeDeps, caller: Caller, flavorid: string): Promise<void> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-flavor-manage:delete');
  await getFlavor(deps, caller, flavorid);
  await deps.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('compute_flavor_extra_spec').where('flavorid', '=', flavorid).execute();
    await tx.deleteFrom('compute_flavor_access').where('flavorid', '=', flavorid).execute();
    await tx.deleteFrom('compute_flavor').where('flavorid', '=', flavorid).execute();
  });
}

export async function extraSpecsOf(deps: ComputeDeps, flavorids: readonly string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>(flavorids.map((id) => [id, {}]));
  if (!flavorids.length) return out;
  const rows = await deps.db.selectFrom('compute_flavor_extra_spec').selectAll().where('flavorid', 'in', [...flavorids]).execute();
  for (const r of rows) out.get(r.flavorid)![r.key] = r.value;
  return out;
}

const SPEC_KEY = /^[\w.:-]{1,255}$/;

export async function setExtraSpecs(deps: ComputeDeps, caller: Caller, flavorid: string, specs: unknown): Promise<Record<string, string>> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-flavor-extra-specs:create');
  if (!specs || typeof specs !== 'object' || Array.isArray(specs) || !Object.keys(specs).length) throw invalid("Invalid input for field/attribute extra_specs. It must be a non-empty object of strings");
  const entries = Object.entries(specs as Record<string, unknown>).map(([k, v]) => {
    if (!SPEC_KEY.test(k)) throw invalid(`Invalid input for field/attribute extra_specs. Value: ${k}. The key must be 1-255 characters of letters, digits, '_', '-', '.', ':'`);
    const value = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
    if (typeof value !== 'string' || value.length > 255) throw invalid(`Invalid input for field/attribute extra_specs. Value: ${String(v)}. Values must be strings of at most 255 characters`);
    return [k, value] as const;
  });
  await getFlavor(deps, caller, flavorid);
  await deps.db.transaction().execute(async (tx) => {
    for (const [key, value] of entries) {
      await tx.deleteFrom('compute_flavor_extra_spec').where('flavorid', '=', flavorid).where('key', '=', key).execute();
      await tx.insertInto('compute_flavor_extra_spec').values({ flavorid, key, value }).execute();
    }
  });
  return Object.fromEntries(entries);
}

export async function deleteExtraSpec(deps: ComputeDeps, caller: Caller, flavorid: string, key: string): Promise<void> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-flavor-extra-specs:delete');
  await getFlavor(deps, caller, flavorid);
  const res = await deps.db.deleteFrom('compute_flavor_extra_spec').where('flavorid', '=', flavorid).where('key', '=', key).executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw novaError('ERR_NOT_FOUND', `Flavor ${flavorid} has no extra specs with key ${key}.`);
}

export async function flavorAccess(deps: ComputeDeps, caller: Caller, flavorid: string): Promise<string[]> {
  if (!caller.isAdmin) throw adminOnly('os_compute_api:os-flavor-access');
  const row = await getFlavor(deps, caller, flavorid);
  if (row.is_public) throw novaError('ERR_NOT_FOUND', 'Access list not available for public flavors.');
  return (await deps.db.selectFrom('compute_flavor_access').select('project_id').where('flavorid', '=', flavorid).orderBy('project_id').execute()).map((r) => r.project_id);
}

export async function changeFlavorAccess(deps: ComputeDeps, caller: Caller, flavorid: string, projectId: unknown, add: boolean): Promise<string[]> {
  if (!caller.isAdmin) throw adminOnly(`os_compute_api:os-flavor-access:${add ? 'add' : 'remove'}_tenant_access`);
  if (typeof projectId !== 'string' || !projectId) throw invalid(`Invalid input for field/attribute tenant. Value: ${String(projectId)}.`);
  const row = await getFlavor(deps, caller, flavorid);
  if (row.is_public) throw conflict('Can not add access to a public flavor.');
  const has = await deps.db.selectFrom('compute_flavor_access').select('project_id').where('flavorid', '=', flavorid).where('project_id', '=', projectId).executeTakeFirst();
  if (add) {
    if (has) throw conflict(`Flavor access already exists for flavor ${flavorid} and project ${projectId} combination.`);
    await deps.db.insertInto('compute_flavor_access').values({ flavorid, project_id: projectId }).execute();
  } else {
    if (!has) throw novaError('ERR_NOT_FOUND', `Flavor access not found for ${flavorid} / ${projectId} combination.`);
    await deps.db.deleteFrom('compute_flavor_access').where('flavorid', '=', flavorid).where('project_id', '=', projectId).execute();
  }
  return flavorAccess(deps, caller, flavorid);
}

export async function flavorRecord(deps: ComputeDeps, row: FlavorRow): Promise<FlavorRecord> {
  const specs = (await extraSpecsOf(deps, [row.flavorid])).get(row.flavorid) ?? {};
  return { id: row.flavorid, name: row.name, vcpus: row.vcpus, ram: row.memory_mb, disk: row.root_gb, ephemeral: row.ephemeral_gb, swap: row.swap_mb, extra_specs: specs };
}
